// PNG decoding and encoding through libpng, with its longjmp errors caught.
//
// Each public function keeps all state in one context struct on its stack and
// calls setjmp itself. The steps that can fail run in helpers that receive a
// pointer to the context, so every buffer pointer they store is in memory,
// not in a register that longjmp would restore to a stale value.
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>

#include <png.h>

#include "codec_internal.h"

static const uint8_t png_signature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};

/// Read position in the encoded PNG, for read_png_bytes.
typedef struct png_memory_reader {
    const uint8_t *data;
    size_t size;
    size_t offset;
} png_memory_reader;

typedef struct png_decode_context {
    png_structp png;
    png_infop info;
    png_memory_reader reader;
    hf_decoded_image *image;
    hf_codec_status *status;
    png_bytep *rows;
} png_decode_context;

static void on_png_error(png_structp png, png_const_charp message) {
    hf_codec_status *status = png_get_error_ptr(png);
    hf_status_set(status, HF_CODEC_CORRUPT, "%s", message);
    png_longjmp(png, 1);
}

// libpng warns about damaged ancillary chunks (text, colour profiles) and
// then ignores them. The pixels are unaffected, so the warning is dropped.
static void on_png_warning(png_structp png, png_const_charp message) {
    (void)png;
    (void)message;
}

/// Copies the next `count` bytes, or calls png_error (which longjmps) when
/// fewer remain.
static void read_png_bytes(png_structp png, png_bytep destination, size_t count) {
    png_memory_reader *reader = png_get_io_ptr(png);
    if (count > reader->size - reader->offset) {
        png_error(png, "file ends before the PNG data is complete (truncated file)");
    }
    memcpy(destination, reader->data + reader->offset, count);
    reader->offset += count;
}

static uint32_t read_big_endian_32(const uint8_t *bytes) {
    return ((uint32_t)bytes[0] << 24) | ((uint32_t)bytes[1] << 16) | ((uint32_t)bytes[2] << 8) | bytes[3];
}

/// Checks the signature and the IHDR size fields before libpng runs, so that
/// zero, oversized and tiny declared sizes get their own result codes.
static hf_codec_result check_png_header(const uint8_t *data, size_t size, hf_decode_limits limits,
                                        hf_codec_status *status) {
    if (size < sizeof png_signature || memcmp(data, png_signature, sizeof png_signature) != 0) {
        return hf_status_set(status, HF_CODEC_CORRUPT, "PNG signature is missing");
    }
    // Signature (8), chunk length (4), chunk type (4), width (4), height (4).
    if (size < 24) {
        return hf_status_set(status, HF_CODEC_CORRUPT, "file ends inside the IHDR chunk (truncated file)");
    }
    if (memcmp(data + 12, "IHDR", 4) != 0) {
        return hf_status_set(status, HF_CODEC_CORRUPT, "first chunk is not IHDR");
    }
    return hf_check_declared_size(read_big_endian_32(data + 16), read_big_endian_32(data + 20), limits, status);
}

static hf_source_color source_color_of_png(int color_type) {
    switch (color_type) {
    case PNG_COLOR_TYPE_GRAY: return HF_SOURCE_GRAY;
    case PNG_COLOR_TYPE_GRAY_ALPHA: return HF_SOURCE_GRAY_ALPHA;
    case PNG_COLOR_TYPE_PALETTE: return HF_SOURCE_PALETTE;
    case PNG_COLOR_TYPE_RGB_ALPHA: return HF_SOURCE_RGBA;
    default: return HF_SOURCE_RGB;
    }
}

static void decode_png_steps(png_decode_context *context) {
    png_structp png = context->png;
    png_infop info = context->info;
    hf_decoded_image *image = context->image;

    png_set_read_fn(png, &context->reader, read_png_bytes);
    png_read_info(png, info);

    uint32_t width = png_get_image_width(png, info);
    uint32_t height = png_get_image_height(png, info);
    int color_type = png_get_color_type(png, info);
    int bit_depth = png_get_bit_depth(png, info);
    image->source_width = width;
    image->source_height = height;
    image->source_color = source_color_of_png(color_type);
    image->source_bit_depth = (uint32_t)bit_depth;
    image->source_interlaced = png_get_interlace_type(png, info) != PNG_INTERLACE_NONE;

    // Transforms to 8-bit RGB or RGBA: palette and low bit depths expand to
    // 8 bits, a tRNS chunk becomes an alpha channel, 16-bit samples are scaled
    // with rounding (png_set_strip_16 would truncate), and grey becomes RGB.
    if (color_type == PNG_COLOR_TYPE_PALETTE) {
        png_set_palette_to_rgb(png);
    }
    if ((color_type == PNG_COLOR_TYPE_GRAY || color_type == PNG_COLOR_TYPE_GRAY_ALPHA) && bit_depth < 8) {
        png_set_expand_gray_1_2_4_to_8(png);
    }
    if (png_get_valid(png, info, PNG_INFO_tRNS)) {
        png_set_tRNS_to_alpha(png);
    }
    if (bit_depth == 16) {
        png_set_scale_16(png);
    }
    if (color_type == PNG_COLOR_TYPE_GRAY || color_type == PNG_COLOR_TYPE_GRAY_ALPHA) {
        png_set_gray_to_rgb(png);
    }
    png_set_interlace_handling(png);
    png_read_update_info(png, info);

    uint32_t channels = png_get_channels(png, info);
    size_t row_bytes = png_get_rowbytes(png, info);
    if ((channels != 3 && channels != 4) || row_bytes != (size_t)width * channels) {
        png_error(png, "libpng transforms did not produce 8-bit RGB or RGBA rows");
    }

    image->pixels = malloc(row_bytes * height);
    context->rows = malloc(sizeof(png_bytep) * height);
    if (image->pixels == NULL || context->rows == NULL) {
        hf_status_set(context->status, HF_CODEC_OUT_OF_MEMORY, "cannot allocate %ux%u pixels", width, height);
        png_longjmp(png, 1);
    }
    for (uint32_t y = 0; y < height; y++) {
        context->rows[y] = image->pixels + (size_t)y * row_bytes;
    }
    png_read_image(png, context->rows);

    // Reading up to IEND rejects files cut off after the last image row.
    png_read_end(png, NULL);

    image->width = width;
    image->height = height;
    image->channels = channels;
}

hf_codec_result hf_png_decode(const uint8_t *data, size_t size, hf_decode_limits limits,
                              hf_decoded_image *image, hf_codec_status *status) {
    memset(image, 0, sizeof *image);
    hf_status_set(status, HF_CODEC_OK, "");
    if (data == NULL && size > 0) {
        return hf_status_set(status, HF_CODEC_INVALID_ARGUMENT, "data is NULL");
    }
    if (check_png_header(data, size, limits, status) != HF_CODEC_OK) {
        return status->result;
    }

    png_decode_context context = {0};
    context.reader = (png_memory_reader){.data = data, .size = size, .offset = 0};
    context.image = image;
    context.status = status;
    context.png = png_create_read_struct(PNG_LIBPNG_VER_STRING, status, on_png_error, on_png_warning);
    if (context.png == NULL) {
        return hf_status_set(status, HF_CODEC_OUT_OF_MEMORY, "cannot create the libpng read struct");
    }
    context.info = png_create_info_struct(context.png);
    if (context.info == NULL) {
        png_destroy_read_struct(&context.png, NULL, NULL);
        return hf_status_set(status, HF_CODEC_OUT_OF_MEMORY, "cannot create the libpng info struct");
    }

    if (setjmp(png_jmpbuf(context.png)) == 0) {
        decode_png_steps(&context);
    } else {
        hf_decoded_image_free(image);
        if (status->result == HF_CODEC_OK) {
            hf_status_set(status, HF_CODEC_CORRUPT, "libpng failed without a message");
        }
    }

    free(context.rows);
    png_destroy_read_struct(&context.png, &context.info, NULL);
    return status->result;
}

/// Growable output buffer for png_set_write_fn.
typedef struct png_memory_writer {
    uint8_t *bytes;
    size_t size;
    size_t capacity;
} png_memory_writer;

typedef struct png_encode_context {
    png_structp png;
    png_infop info;
    png_memory_writer writer;
    const uint8_t *pixels;
    uint32_t width;
    uint32_t height;
    int compression_level;
    hf_codec_status *status;
    png_bytep *rows;
} png_encode_context;

static void write_png_bytes(png_structp png, png_bytep source, size_t count) {
    png_memory_writer *writer = png_get_io_ptr(png);
    if (count > writer->capacity - writer->size) {
        size_t capacity = writer->capacity == 0 ? 65536 : writer->capacity;
        while (count > capacity - writer->size) {
            capacity *= 2;
        }
        uint8_t *grown = realloc(writer->bytes, capacity);
        if (grown == NULL) {
            png_error(png, "cannot grow the PNG output buffer");
        }
        writer->bytes = grown;
        writer->capacity = capacity;
    }
    memcpy(writer->bytes + writer->size, source, count);
    writer->size += count;
}

static void flush_png_bytes(png_structp png) {
    (void)png;
}

static void encode_png_steps(png_encode_context *context) {
    png_structp png = context->png;
    png_infop info = context->info;

    png_set_write_fn(png, &context->writer, write_png_bytes, flush_png_bytes);
    png_set_IHDR(png, info, context->width, context->height, 8, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_set_compression_level(png, context->compression_level);
    png_write_info(png, info);

    context->rows = malloc(sizeof(png_bytep) * context->height);
    if (context->rows == NULL) {
        png_error(png, "cannot allocate the row pointers");
    }
    size_t row_bytes = (size_t)context->width * 3;
    for (uint32_t y = 0; y < context->height; y++) {
        context->rows[y] = (png_bytep)(context->pixels + (size_t)y * row_bytes);
    }
    png_write_image(png, context->rows);
    png_write_end(png, NULL);
}

hf_codec_result hf_png_encode_rgb8(const uint8_t *pixels, uint32_t width, uint32_t height,
                                   int compression_level, hf_encoded_buffer *output,
                                   hf_codec_status *status) {
    output->bytes = NULL;
    output->size = 0;
    hf_status_set(status, HF_CODEC_OK, "");
    if (pixels == NULL || width == 0 || height == 0) {
        return hf_status_set(status, HF_CODEC_INVALID_ARGUMENT, "cannot encode a %ux%u image", width, height);
    }
    if (compression_level < 0 || compression_level > 9) {
        return hf_status_set(status, HF_CODEC_INVALID_ARGUMENT,
                             "compression level %d is outside 0...9", compression_level);
    }

    png_encode_context context = {0};
    context.pixels = pixels;
    context.width = width;
    context.height = height;
    context.compression_level = compression_level;
    context.status = status;
    context.png = png_create_write_struct(PNG_LIBPNG_VER_STRING, status, on_png_error, on_png_warning);
    if (context.png == NULL) {
        return hf_status_set(status, HF_CODEC_OUT_OF_MEMORY, "cannot create the libpng write struct");
    }
    context.info = png_create_info_struct(context.png);
    if (context.info == NULL) {
        png_destroy_write_struct(&context.png, NULL);
        return hf_status_set(status, HF_CODEC_OUT_OF_MEMORY, "cannot create the libpng info struct");
    }

    if (setjmp(png_jmpbuf(context.png)) == 0) {
        encode_png_steps(&context);
        output->bytes = context.writer.bytes;
        output->size = context.writer.size;
    } else {
        free(context.writer.bytes);
        if (status->result == HF_CODEC_OK) {
            hf_status_set(status, HF_CODEC_ENCODE_FAILED, "libpng failed without a message");
        }
        status->result = HF_CODEC_ENCODE_FAILED;
    }

    free(context.rows);
    png_destroy_write_struct(&context.png, &context.info);
    return status->result;
}
