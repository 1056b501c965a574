// Image codecs from Debian: libpng's simplified API (no setjmp, errors come back in png_image.message)
// and libjpeg-turbo's TurboJPEG API (errors come back as codes), so Swift never crosses a longjmp.
#ifndef FERLIVE_CIMAGECODECS_SHIM_H
#define FERLIVE_CIMAGECODECS_SHIM_H
#include <png.h>
#include <turbojpeg.h>

// png.h spells these as macros built from other macros; export them as plain constants.
static const unsigned int CImageCodecs_PNG_IMAGE_VERSION = PNG_IMAGE_VERSION;
static const unsigned int CImageCodecs_PNG_FORMAT_GRAY = PNG_FORMAT_GRAY;
static const unsigned int CImageCodecs_PNG_FORMAT_RGB = PNG_FORMAT_RGB;
static const unsigned int CImageCodecs_PNG_FORMAT_FLAG_COLOR = PNG_FORMAT_FLAG_COLOR;
static const unsigned int CImageCodecs_PNG_FORMAT_FLAG_ALPHA = PNG_FORMAT_FLAG_ALPHA;
#endif
