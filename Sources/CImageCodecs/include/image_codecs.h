// PNG and JPEG decoding and encoding in memory, for Swift.
//
// libpng and libjpeg report errors by longjmp, and libjpeg's default error
// handler calls exit(). Swift cannot unwind through a longjmp, so every
// library call that can fail runs inside these functions, which install the
// jump buffer and error handlers and turn a failure into a status code and a
// message. No function here exits the process or longjmps into the caller.
#ifndef HYPERFIELD_IMAGE_CODECS_H
#define HYPERFIELD_IMAGE_CODECS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Result of a codec call. HF_CODEC_OK is zero. Every other value is a
/// failure whose details are in hf_codec_status.message.
typedef enum hf_codec_result {
    HF_CODEC_OK = 0,
    /// The data is truncated or corrupt, or the library rejected it.
    HF_CODEC_CORRUPT = 1,
    /// The declared width or height is zero.
    HF_CODEC_ZERO_SIZE = 2,
    /// Width times height exceeds hf_decode_limits.max_pixels.
    HF_CODEC_TOO_LARGE = 3,
    /// The shorter side is below hf_decode_limits.min_side.
    HF_CODEC_TOO_SMALL = 4,
    /// The file is valid but uses a feature this wrapper does not decode.
    HF_CODEC_UNSUPPORTED = 5,
    /// A memory allocation failed.
    HF_CODEC_OUT_OF_MEMORY = 6,
    /// An argument was invalid (a bug in the caller).
    HF_CODEC_INVALID_ARGUMENT = 7,
    /// The library failed while encoding.
    HF_CODEC_ENCODE_FAILED = 8,
} hf_codec_result;

/// Failure details. `message` is a NUL-terminated English sentence fragment
/// from the library or from this wrapper, such as "Premature end of JPEG file".
typedef struct hf_codec_status {
    hf_codec_result result;
    char message[256];
} hf_codec_status;

/// Checks applied to the declared size before any pixel buffer is allocated.
typedef struct hf_decode_limits {
    /// Maximum width * height. Larger images fail with HF_CODEC_TOO_LARGE.
    uint64_t max_pixels;
    /// Minimum of width and height; smaller images fail with
    /// HF_CODEC_TOO_SMALL. Zero-sized images always fail with
    /// HF_CODEC_ZERO_SIZE.
    uint32_t min_side;
} hf_decode_limits;

/// Colour model of the source file, for messages and tests.
typedef enum hf_source_color {
    HF_SOURCE_GRAY = 0,
    HF_SOURCE_GRAY_ALPHA = 1,
    HF_SOURCE_RGB = 2,
    HF_SOURCE_RGBA = 3,
    HF_SOURCE_PALETTE = 4,
    HF_SOURCE_YCBCR = 5,
    HF_SOURCE_CMYK = 6,
    HF_SOURCE_YCCK = 7,
} hf_source_color;

/// A decoded image. Free `pixels` and `exif` with hf_decoded_image_free.
typedef struct hf_decoded_image {
    /// Interleaved 8-bit samples, `height` rows of `width * channels` bytes.
    uint8_t *pixels;
    uint32_t width;
    uint32_t height;
    /// 3 (RGB) or 4 (RGBA, straight alpha). Only PNG decoding returns 4.
    uint32_t channels;
    /// Size declared in the file header. It differs from width and height
    /// only when JPEG DCT scaling shrank the output.
    uint32_t source_width;
    uint32_t source_height;
    hf_source_color source_color;
    /// Bits per sample in the file (1, 2, 4, 8 or 16).
    uint32_t source_bit_depth;
    /// Nonzero for an interlaced PNG or a progressive JPEG.
    int32_t source_interlaced;
    /// Payload of the first JPEG APP1 "Exif" segment after the 6-byte
    /// "Exif\0\0" identifier (a TIFF structure), or NULL when there is none.
    uint8_t *exif;
    size_t exif_size;
} hf_decoded_image;

/// Releases the buffers of `image` and sets its pointers to NULL.
void hf_decoded_image_free(hf_decoded_image *image);

/// Decodes a PNG of any colour type, bit depth and interlacing to 8-bit RGB,
/// or to RGBA when the file has an alpha channel or a tRNS chunk. 16-bit
/// samples are scaled with rounding (v * 255 / 65535), so 257 becomes 1.
/// Truncation, CRC errors in critical chunks and a missing IEND chunk are
/// failures. Gamma and colour-profile chunks are ignored.
hf_codec_result hf_png_decode(const uint8_t *data, size_t size, hf_decode_limits limits,
                              hf_decoded_image *image, hf_codec_status *status);

/// Decodes a baseline or progressive JPEG to 8-bit RGB. Grayscale, YCbCr,
/// RGB, CMYK and YCCK sources are converted. CMYK and YCCK data from a file
/// with an Adobe APP14 marker is taken as inverted, as Adobe software writes
/// it. Every libjpeg warning about corrupt data, including "Premature end of
/// JPEG file", is a failure.
///
/// libjpeg's DCT scaling shrinks the output by the smallest factor n/8
/// (n = 1...8) that keeps the shorter output side at least
/// `min_shorter_side` and the longer one at least `min_longer_side`, or at
/// full size when the image is smaller than that. Pass zeros to decode at
/// full size. The limits apply to the declared size.
hf_codec_result hf_jpeg_decode(const uint8_t *data, size_t size, hf_decode_limits limits,
                               uint32_t min_shorter_side, uint32_t min_longer_side,
                               hf_decoded_image *image, hf_codec_status *status);

/// An encoded file in memory. Free with hf_encoded_buffer_free.
typedef struct hf_encoded_buffer {
    uint8_t *bytes;
    size_t size;
} hf_encoded_buffer;

void hf_encoded_buffer_free(hf_encoded_buffer *buffer);

/// Encodes 8-bit interleaved RGB as a non-interlaced 8-bit RGB PNG.
/// `compression_level` is zlib's 0 (none) to 9 (smallest).
hf_codec_result hf_png_encode_rgb8(const uint8_t *pixels, uint32_t width, uint32_t height,
                                   int compression_level, hf_encoded_buffer *output,
                                   hf_codec_status *status);

/// Encodes 8-bit interleaved RGB as a JFIF JPEG. `quality` is libjpeg's 1 to
/// 100. A nonzero `progressive` writes a progressive JPEG. A nonzero
/// `grayscale` stores one luminance channel. Quality 90 and above keeps full
/// chroma resolution (4:4:4). Below 90, chroma is subsampled 2x2 (4:2:0).
hf_codec_result hf_jpeg_encode_rgb8(const uint8_t *pixels, uint32_t width, uint32_t height,
                                    int quality, int progressive, int grayscale,
                                    hf_encoded_buffer *output, hf_codec_status *status);

#ifdef __cplusplus
}
#endif

#endif
