#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "codec_internal.h"

hf_codec_result hf_status_set(hf_codec_status *status, hf_codec_result result, const char *format, ...) {
    status->result = result;
    va_list arguments;
    va_start(arguments, format);
    vsnprintf(status->message, sizeof status->message, format, arguments);
    va_end(arguments);
    return result;
}

hf_codec_result hf_check_declared_size(uint64_t width, uint64_t height, hf_decode_limits limits,
                                       hf_codec_status *status) {
    if (width == 0 || height == 0) {
        return hf_status_set(status, HF_CODEC_ZERO_SIZE, "declared size is %llux%llu pixels",
                             (unsigned long long)width, (unsigned long long)height);
    }
    // Both factors are below 2^32, so the product cannot overflow.
    if (width * height > limits.max_pixels) {
        return hf_status_set(status, HF_CODEC_TOO_LARGE,
                             "declared size %llux%llu is %llu pixels, above the limit of %llu",
                             (unsigned long long)width, (unsigned long long)height,
                             (unsigned long long)(width * height), (unsigned long long)limits.max_pixels);
    }
    uint64_t shorter = width < height ? width : height;
    if (shorter < limits.min_side) {
        return hf_status_set(status, HF_CODEC_TOO_SMALL,
                             "size %llux%llu has a side shorter than the minimum of %u pixels",
                             (unsigned long long)width, (unsigned long long)height, limits.min_side);
    }
    return HF_CODEC_OK;
}

void hf_decoded_image_free(hf_decoded_image *image) {
    free(image->pixels);
    free(image->exif);
    image->pixels = NULL;
    image->exif = NULL;
    image->exif_size = 0;
}

void hf_encoded_buffer_free(hf_encoded_buffer *buffer) {
    free(buffer->bytes);
    buffer->bytes = NULL;
    buffer->size = 0;
}
