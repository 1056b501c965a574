// FFmpeg from Debian (libavformat, libavcodec, libswscale, libavutil): reading video files. Header shim
// only: the function-like macros Swift cannot see, as static inline functions and constants.
#ifndef FERLIVE_CFFMPEG_SHIM_H
#define FERLIVE_CFFMPEG_SHIM_H
#include <libavformat/avformat.h>
#include <libavcodec/avcodec.h>
#include <libswscale/swscale.h>
#include <libavutil/avutil.h>
#include <libavutil/error.h>
#include <libavutil/imgutils.h>
#include <libavutil/opt.h>
#include <libavutil/sha.h>

static const int CFFmpeg_AVERROR_EOF = AVERROR_EOF;
static inline int CFFmpeg_AVERROR_EAGAIN(void) { return AVERROR(EAGAIN); }
static const int64_t CFFmpeg_AV_NOPTS_VALUE = AV_NOPTS_VALUE;
static const int CFFmpeg_AV_TIME_BASE = AV_TIME_BASE;
#endif
