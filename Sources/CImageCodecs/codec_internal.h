// Helpers shared by the PNG and JPEG wrappers. Not part of the public header.
#ifndef HYPERFIELD_CODEC_INTERNAL_H
#define HYPERFIELD_CODEC_INTERNAL_H

#include "image_codecs.h"

/// Sets `status` to `result` with a printf-style message, and returns `result`.
hf_codec_result hf_status_set(hf_codec_status *status, hf_codec_result result, const char *format, ...)
    __attribute__((format(printf, 3, 4)));

/// Checks a declared size against `limits` before any pixel buffer exists.
/// Returns HF_CODEC_OK or the failure, with `status` filled in.
hf_codec_result hf_check_declared_size(uint64_t width, uint64_t height, hf_decode_limits limits,
                                       hf_codec_status *status);

#endif
