// JPEG decoding and encoding through libjpeg(-turbo), with errors caught.
//
// libjpeg's default error_exit prints and calls exit(). This file replaces it
// with one that records the message and longjmps back to the public function,
// which cleans up and returns a status. Corrupt-data warnings, which libjpeg
// would only print before returning grey or garbled rows, are errors too.
//
// As in png_codec.c, all state lives in a context struct whose address the
// helpers receive, so nothing the helpers store is lost to longjmp.
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jerror.h>
#include <jpeglib.h>

#include "codec_internal.h"

/// libjpeg error manager extended with the jump target and our status.
typedef struct jpeg_error_context {
    struct jpeg_error_mgr manager; // first member, so that cinfo->err can be cast to this type
    jmp_buf jump;
    hf_codec_status *status;
} jpeg_error_context;

static hf_codec_result result_for_jpeg_error(int message_code) {
    switch (message_code) {
    case JERR_EMPTY_IMAGE: return HF_CODEC_ZERO_SIZE;
    case JERR_IMAGE_TOO_BIG: return HF_CODEC_TOO_LARGE;
    case JERR_OUT_OF_MEMORY: return HF_CODEC_OUT_OF_MEMORY;
    default: return HF_CODEC_CORRUPT;
    }
}

static void record_jpeg_message(j_common_ptr cinfo, hf_codec_result result) {
    jpeg_error_context *errors = (jpeg_error_context *)cinfo->err;
    char text[JMSG_LENGTH_MAX];
    (*cinfo->err->format_message)(cinfo, text);
    hf_status_set(errors->status, result, "%s", text);
}

static void on_jpeg_error_exit(j_common_ptr cinfo) {
    jpeg_error_context *errors = (jpeg_error_context *)cinfo->err;
    record_jpeg_message(cinfo, result_for_jpeg_error(cinfo->err->msg_code));
    longjmp(errors->jump, 1);
}

/// Warnings that leave the pixels intact: an unknown JFIF version, an
/// unknown Adobe transform code (libjpeg then picks the transform from the
/// component count) and a damaged ICC profile, which this wrapper ignores.
static int is_harmless_jpeg_warning(int message_code) {
    return message_code == JWRN_JFIF_MAJOR || message_code == JWRN_ADOBE_XFORM || message_code == JWRN_BOGUS_ICC;
}

/// Decoder message handler. Levels 0 and above are trace messages and are
/// dropped. Level -1 is a warning. Every warning outside the harmless list
/// reports corrupt data (JWRN_JPEG_EOF, JWRN_HIT_MARKER, JWRN_HUFF_BAD_CODE,
/// JWRN_EXTRANEOUS_DATA and others), so it fails the decode.
static void on_jpeg_decode_message(j_common_ptr cinfo, int message_level) {
    if (message_level >= 0 || is_harmless_jpeg_warning(cinfo->err->msg_code)) {
        return;
    }
    jpeg_error_context *errors = (jpeg_error_context *)cinfo->err;
    record_jpeg_message(cinfo, HF_CODEC_CORRUPT);
    longjmp(errors->jump, 1);
}

/// Encoder message handler: the encoder's warnings do not affect the output.
static void on_jpeg_encode_message(j_common_ptr cinfo, int message_level) {
    (void)cinfo;
    (void)message_level;
}

typedef struct jpeg_decode_context {
    struct jpeg_decompress_struct cinfo;
    jpeg_error_context errors;
    const uint8_t *data;
    size_t size;
    hf_decode_limits limits;
    uint32_t min_shorter_side;
    uint32_t min_longer_side;
    hf_decoded_image *image;
    hf_codec_status *status;
    uint8_t *cmyk_row;
} jpeg_decode_context;

/// Smallest n in 1...8 such that DCT scaling by n/8 keeps the shorter side at
/// least `min_shorter_side` and the longer side at least `min_longer_side`,
/// each capped at the full size.
static unsigned scale_numerator_for(uint32_t width, uint32_t height, uint32_t min_shorter_side,
                                    uint32_t min_longer_side) {
    uint64_t shorter = width < height ? width : height;
    uint64_t longer = width < height ? height : width;
    uint64_t shorter_target = min_shorter_side < shorter ? min_shorter_side : shorter;
    uint64_t longer_target = min_longer_side < longer ? min_longer_side : longer;
    for (unsigned numerator = 1; numerator < 8; numerator++) {
        // libjpeg rounds scaled sizes up.
        if ((shorter * numerator + 7) / 8 >= shorter_target && (longer * numerator + 7) / 8 >= longer_target) {
            return numerator;
        }
    }
    return 8;
}

/// Copies the first APP1 "Exif" payload, without its 6-byte identifier.
static void copy_exif_payload(jpeg_decode_context *context) {
    static const uint8_t exif_identifier[6] = {'E', 'x', 'i', 'f', 0, 0};
    for (jpeg_saved_marker_ptr marker = context->cinfo.marker_list; marker != NULL; marker = marker->next) {
        if (marker->marker != JPEG_APP0 + 1 || marker->data_length <= sizeof exif_identifier ||
            memcmp(marker->data, exif_identifier, sizeof exif_identifier) != 0) {
            continue;
        }
        size_t payload_size = marker->data_length - sizeof exif_identifier;
        context->image->exif = malloc(payload_size);
        if (context->image->exif == NULL) {
            return; // Without the payload the image decodes unrotated, which beats failing.
        }
        memcpy(context->image->exif, marker->data + sizeof exif_identifier, payload_size);
        context->image->exif_size = payload_size;
        return;
    }
}

/// (a * b) / 255, rounded to nearest.
static uint8_t multiply_255(unsigned a, unsigned b) {
    unsigned product = a * b + 128;
    return (uint8_t)((product + (product >> 8)) >> 8);
}

/// Converts one row of CMYK to RGB with R = (1 - C)(1 - K) and likewise for
/// G (M) and B (Y). With `inverted`, the stored samples are 255 - C and so on,
/// so R is the product of the stored C and K.
static void convert_cmyk_row(const uint8_t *cmyk, uint8_t *rgb, uint32_t width, int inverted) {
    for (uint32_t x = 0; x < width; x++) {
        unsigned c = cmyk[4 * x], m = cmyk[4 * x + 1], y = cmyk[4 * x + 2], k = cmyk[4 * x + 3];
        if (!inverted) {
            c = 255 - c;
            m = 255 - m;
            y = 255 - y;
            k = 255 - k;
        }
        rgb[3 * x] = multiply_255(c, k);
        rgb[3 * x + 1] = multiply_255(m, k);
        rgb[3 * x + 2] = multiply_255(y, k);
    }
}

static void decode_jpeg_steps(jpeg_decode_context *context) {
    j_decompress_ptr cinfo = &context->cinfo;
    hf_decoded_image *image = context->image;

    jpeg_create_decompress(cinfo);
    jpeg_mem_src(cinfo, context->data, (unsigned long)context->size);
    jpeg_save_markers(cinfo, JPEG_APP0 + 1, 0xFFFF);
    jpeg_read_header(cinfo, TRUE);
    // Saved markers live in libjpeg's image pool, which
    // jpeg_finish_decompress frees, so the payload is copied now.
    copy_exif_payload(context);

    image->source_width = cinfo->image_width;
    image->source_height = cinfo->image_height;
    image->source_bit_depth = (uint32_t)cinfo->data_precision;
    image->source_interlaced = cinfo->progressive_mode ? 1 : 0;
    if (hf_check_declared_size(cinfo->image_width, cinfo->image_height, context->limits, context->status) !=
        HF_CODEC_OK) {
        longjmp(context->errors.jump, 1);
    }

    int is_cmyk = 0;
    switch (cinfo->jpeg_color_space) {
    case JCS_GRAYSCALE:
        image->source_color = HF_SOURCE_GRAY;
        cinfo->out_color_space = JCS_RGB;
        break;
    case JCS_YCbCr:
        image->source_color = HF_SOURCE_YCBCR;
        cinfo->out_color_space = JCS_RGB;
        break;
    case JCS_RGB:
        image->source_color = HF_SOURCE_RGB;
        cinfo->out_color_space = JCS_RGB;
        break;
    case JCS_CMYK:
    case JCS_YCCK:
        // libjpeg turns YCCK back into CMYK, and convert_cmyk_row makes RGB.
        image->source_color = cinfo->jpeg_color_space == JCS_CMYK ? HF_SOURCE_CMYK : HF_SOURCE_YCCK;
        cinfo->out_color_space = JCS_CMYK;
        is_cmyk = 1;
        break;
    default:
        hf_status_set(context->status, HF_CODEC_UNSUPPORTED, "JPEG with %d colour components of unknown meaning",
                      cinfo->num_components);
        longjmp(context->errors.jump, 1);
    }

    if (context->min_shorter_side > 0 || context->min_longer_side > 0) {
        cinfo->scale_num = scale_numerator_for(cinfo->image_width, cinfo->image_height, context->min_shorter_side,
                                               context->min_longer_side);
        cinfo->scale_denom = 8;
    }
    jpeg_start_decompress(cinfo);

    uint32_t width = cinfo->output_width;
    uint32_t height = cinfo->output_height;
    size_t row_bytes = (size_t)width * 3;
    image->pixels = malloc(row_bytes * height);
    if (is_cmyk) {
        context->cmyk_row = malloc((size_t)width * 4);
    }
    if (image->pixels == NULL || (is_cmyk && context->cmyk_row == NULL)) {
        hf_status_set(context->status, HF_CODEC_OUT_OF_MEMORY, "cannot allocate %ux%u pixels", width, height);
        longjmp(context->errors.jump, 1);
    }

    while (cinfo->output_scanline < height) {
        uint8_t *destination = image->pixels + (size_t)cinfo->output_scanline * row_bytes;
        JSAMPROW row = is_cmyk ? context->cmyk_row : destination;
        jpeg_read_scanlines(cinfo, &row, 1);
        if (is_cmyk) {
            convert_cmyk_row(context->cmyk_row, destination, width, cinfo->saw_Adobe_marker);
        }
    }

    // Reads the rest of the file up to EOI, so truncation after the last row
    // still raises JWRN_JPEG_EOF.
    jpeg_finish_decompress(cinfo);

    image->width = width;
    image->height = height;
    image->channels = 3;
}

hf_codec_result hf_jpeg_decode(const uint8_t *data, size_t size, hf_decode_limits limits,
                               uint32_t min_shorter_side, uint32_t min_longer_side,
                               hf_decoded_image *image, hf_codec_status *status) {
    memset(image, 0, sizeof *image);
    hf_status_set(status, HF_CODEC_OK, "");
    if (data == NULL && size > 0) {
        return hf_status_set(status, HF_CODEC_INVALID_ARGUMENT, "data is NULL");
    }

    jpeg_decode_context context;
    memset(&context, 0, sizeof context);
    context.data = data;
    context.size = size;
    context.limits = limits;
    context.min_shorter_side = min_shorter_side;
    context.min_longer_side = min_longer_side;
    context.image = image;
    context.status = status;
    context.cinfo.err = jpeg_std_error(&context.errors.manager);
    context.errors.manager.error_exit = on_jpeg_error_exit;
    context.errors.manager.emit_message = on_jpeg_decode_message;
    context.errors.status = status;

    if (setjmp(context.errors.jump) == 0) {
        decode_jpeg_steps(&context);
    } else {
        hf_decoded_image_free(image);
        if (status->result == HF_CODEC_OK) {
            hf_status_set(status, HF_CODEC_CORRUPT, "libjpeg failed without a message");
        }
    }

    free(context.cmyk_row);
    jpeg_destroy_decompress(&context.cinfo);
    return status->result;
}

typedef struct jpeg_encode_context {
    struct jpeg_compress_struct cinfo;
    jpeg_error_context errors;
    const uint8_t *pixels;
    uint32_t width;
    uint32_t height;
    int quality;
    int progressive;
    int grayscale;
    unsigned char *bytes; // allocated by jpeg_mem_dest and freed by the caller
    unsigned long size;
} jpeg_encode_context;

static void encode_jpeg_steps(jpeg_encode_context *context) {
    j_compress_ptr cinfo = &context->cinfo;

    jpeg_create_compress(cinfo);
    jpeg_mem_dest(cinfo, &context->bytes, &context->size);
    cinfo->image_width = context->width;
    cinfo->image_height = context->height;
    cinfo->input_components = 3;
    cinfo->in_color_space = JCS_RGB;
    jpeg_set_defaults(cinfo);
    jpeg_set_quality(cinfo, context->quality, TRUE);
    if (context->grayscale) {
        jpeg_set_colorspace(cinfo, JCS_GRAYSCALE);
    } else if (context->quality >= 90) {
        // jpeg_set_defaults gives luma 2x2 sampling factors, which subsamples
        // chroma. Equal factors keep chroma at full resolution.
        cinfo->comp_info[0].h_samp_factor = 1;
        cinfo->comp_info[0].v_samp_factor = 1;
    }
    if (context->progressive) {
        jpeg_simple_progression(cinfo);
    }

    jpeg_start_compress(cinfo, TRUE);
    size_t row_bytes = (size_t)context->width * 3;
    while (cinfo->next_scanline < context->height) {
        JSAMPROW row = (JSAMPROW)(context->pixels + (size_t)cinfo->next_scanline * row_bytes);
        jpeg_write_scanlines(cinfo, &row, 1);
    }
    jpeg_finish_compress(cinfo);
}

hf_codec_result hf_jpeg_encode_rgb8(const uint8_t *pixels, uint32_t width, uint32_t height,
                                    int quality, int progressive, int grayscale,
                                    hf_encoded_buffer *output, hf_codec_status *status) {
    output->bytes = NULL;
    output->size = 0;
    hf_status_set(status, HF_CODEC_OK, "");
    if (pixels == NULL || width == 0 || height == 0) {
        return hf_status_set(status, HF_CODEC_INVALID_ARGUMENT, "cannot encode a %ux%u image", width, height);
    }
    if (quality < 1 || quality > 100) {
        return hf_status_set(status, HF_CODEC_INVALID_ARGUMENT, "JPEG quality %d is outside 1...100", quality);
    }

    jpeg_encode_context context;
    memset(&context, 0, sizeof context);
    context.pixels = pixels;
    context.width = width;
    context.height = height;
    context.quality = quality;
    context.progressive = progressive;
    context.grayscale = grayscale;
    context.cinfo.err = jpeg_std_error(&context.errors.manager);
    context.errors.manager.error_exit = on_jpeg_error_exit;
    context.errors.manager.emit_message = on_jpeg_encode_message;
    context.errors.status = status;

    if (setjmp(context.errors.jump) == 0) {
        encode_jpeg_steps(&context);
        output->bytes = context.bytes;
        output->size = context.size;
    } else {
        free(context.bytes);
        status->result = HF_CODEC_ENCODE_FAILED;
    }

    jpeg_destroy_compress(&context.cinfo);
    return status->result;
}
