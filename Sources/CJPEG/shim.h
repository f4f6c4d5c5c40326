// libjpeg-turbo's libjpeg API (Debian package libjpeg-dev). jpeglib.h uses
// FILE and size_t without including the headers that declare them.
#include <stdio.h>
#include <stddef.h>
#include <jpeglib.h>
