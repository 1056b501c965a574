// An emulated USB webcam below libv4l2, for tests only: loaded with LD_PRELOAD into `fer-live camera`, it
// answers open, ioctl, mmap, munmap, poll, close and libc's syscall() for one fake device path, the way a
// UVC driver does, and passes every other call through. Everything above it is the real program: libv4l2,
// libv4lconvert's MJPEG and YUYV conversion, fer-live's capture code, the pipeline.
//
// This is the one place in fer-live where C holds logic: it plays the kernel. It stays small.
//
// Configuration, from the environment:
//   FAKE_WEBCAM_DEVICE  the path it answers for (a file name in a scratch folder, e.g. video9)
//   FAKE_WEBCAM_FRAMES  a folder with one subfolder per offered format and size, named
//                       mjpg-<W>x<H> (JPEG files) or yuyv-<W>x<H> (raw YUYV 4:2:2 files); frames play in
//                       name order, looping
//   FAKE_WEBCAM_FPS     frame rate offered and delivered (default 30)
//   FAKE_WEBCAM_FAULT   one of: busy, access, not-capture (at open); eagain, eintr (every 3rd DQBUF);
//                       silent (frames never come); corrupt:N (frame N is not a JPEG); unplug:N (ENODEV
//                       from frame N on)
//   FAKE_WEBCAM_LOG     a file it appends to: the format set (S_FMT) and the rate asked for (S_PARM)
//   FAKE_WEBCAM_TRACE   set: every ioctl it sees, on stderr
#define _GNU_SOURCE
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/videodev2.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define MAX_FORMATS 8
#define MAX_FRAMES 512
#define BUFFERS 8

struct format {
    unsigned int fourcc, width, height;
    char folder[512];
    char *frames[MAX_FRAMES];
    size_t frame_count;
};

static struct {
    // queued: handed to the driver and empty; holds: the frame a filled buffer holds (-1: none), waiting
    // for DQBUF. Frames are captured at their times whether or not anyone reads them, as a UVC driver
    // fills its queued buffers: with none free, a frame is dropped and its sequence number skipped.
    int initialized, fd, streaming, queued[BUFFERS], holds[BUFFERS], buffer_count, chosen, trace;
    struct format formats[MAX_FORMATS];
    size_t format_count;
    unsigned int fps, captured;
    size_t buffer_size;
    unsigned char *memory;
    unsigned int bytesused[BUFFERS];
    struct timespec started;
    char fault[64];
    long fault_frame;
} cam = {.fd = -1};

static long (*real_syscall)(long, ...);
static int (*real_ioctl)(int, unsigned long, ...);
static int (*real_close)(int);
static int (*real_poll)(struct pollfd *, nfds_t, int);
static void *(*real_mmap)(void *, size_t, int, int, int, off_t);
static int (*real_munmap)(void *, size_t);
static int (*real_openat)(int, const char *, int, ...);

/// A line in FAKE_WEBCAM_LOG, for the tests to read what the program asked the "driver" for.
static void note(const char *format, ...) {
    const char *path = getenv("FAKE_WEBCAM_LOG");
    FILE *log = path ? fopen(path, "a") : NULL;
    if (!log) return;
    va_list arguments;
    va_start(arguments, format);
    vfprintf(log, format, arguments);
    va_end(arguments);
    fputc('\n', log);
    fclose(log);
}

static int compare(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static void setup(void) {
    if (cam.initialized) return;
    cam.initialized = 1;
    real_syscall = dlsym(RTLD_NEXT, "syscall");
    real_ioctl = dlsym(RTLD_NEXT, "ioctl");
    real_close = dlsym(RTLD_NEXT, "close");
    real_poll = dlsym(RTLD_NEXT, "poll");
    real_mmap = dlsym(RTLD_NEXT, "mmap");
    real_munmap = dlsym(RTLD_NEXT, "munmap");
    real_openat = dlsym(RTLD_NEXT, "openat");
    cam.trace = getenv("FAKE_WEBCAM_TRACE") != NULL;
    cam.fps = getenv("FAKE_WEBCAM_FPS") ? (unsigned)atoi(getenv("FAKE_WEBCAM_FPS")) : 30;
    if (cam.fps == 0) cam.fps = 30;
    const char *fault = getenv("FAKE_WEBCAM_FAULT");
    if (fault) {
        snprintf(cam.fault, sizeof cam.fault, "%s", fault);
        char *colon = strchr(cam.fault, ':');
        if (colon) { *colon = 0; cam.fault_frame = atol(colon + 1); }
    }
    const char *root = getenv("FAKE_WEBCAM_FRAMES");
    DIR *dir = root ? opendir(root) : NULL;
    struct dirent *entry;
    while (dir && (entry = readdir(dir)) && cam.format_count < MAX_FORMATS) {
        char kind[8];
        unsigned int w, h;
        if (sscanf(entry->d_name, "%4[a-z]-%ux%u", kind, &w, &h) != 3) continue;
        struct format *f = &cam.formats[cam.format_count];
        f->fourcc = strcmp(kind, "mjpg") == 0 ? V4L2_PIX_FMT_MJPEG : strcmp(kind, "yuyv") == 0 ? V4L2_PIX_FMT_YUYV : 0;
        if (!f->fourcc) continue;
        f->width = w;
        f->height = h;
        snprintf(f->folder, sizeof f->folder, "%s/%s", root, entry->d_name);
        DIR *frames = opendir(f->folder);
        struct dirent *frame;
        while (frames && (frame = readdir(frames)) && f->frame_count < MAX_FRAMES) {
            if (frame->d_name[0] != '.') f->frames[f->frame_count++] = strdup(frame->d_name);
        }
        if (frames) closedir(frames);
        qsort(f->frames, f->frame_count, sizeof(char *), compare);
        cam.format_count++;
    }
    if (dir) closedir(dir);
    // Formats in a fixed order: MJPEG before YUYV, small sizes first (as a UVC camera lists them).
    for (size_t i = 0; i < cam.format_count; i++) {
        for (size_t j = i + 1; j < cam.format_count; j++) {
            struct format *a = &cam.formats[i], *b = &cam.formats[j];
            if ((a->fourcc == V4L2_PIX_FMT_YUYV && b->fourcc == V4L2_PIX_FMT_MJPEG)
                || (a->fourcc == b->fourcc && a->width * a->height > b->width * b->height)) {
                struct format t = *a; *a = *b; *b = t;
            }
        }
    }
}

static int is_device(const char *path) {
    const char *device = getenv("FAKE_WEBCAM_DEVICE");
    return device && path && strcmp(path, device) == 0;
}

static void empty_buffers(void) {
    memset(cam.queued, 0, sizeof cam.queued);
    for (int i = 0; i < BUFFERS; i++) cam.holds[i] = -1;
}

static int fake_open(void) {
    if (strcmp(cam.fault, "busy") == 0) { errno = EBUSY; return -1; }
    if (strcmp(cam.fault, "access") == 0) { errno = EACCES; return -1; }
    if (cam.fd >= 0) { errno = EBUSY; return -1; }   // one user at a time, as a UVC camera
    int fd = real_openat(AT_FDCWD, "/dev/null", O_RDWR);
    if (fd < 0) return -1;
    cam.fd = fd;
    cam.chosen = 0;
    cam.captured = 0;
    empty_buffers();
    cam.streaming = 0;
    return fd;
}

/// The format matching `fourcc` nearest in size to w x h (or the first, for fourcc 0).
static int nearest(unsigned int fourcc, unsigned int w, unsigned int h) {
    int best = -1;
    long best_distance = 0;
    for (size_t i = 0; i < cam.format_count; i++) {
        if (fourcc && cam.formats[i].fourcc != fourcc) continue;
        long distance = labs((long)cam.formats[i].width - (long)w) + labs((long)cam.formats[i].height - (long)h);
        if (best < 0 || distance < best_distance) { best = (int)i; best_distance = distance; }
    }
    return best;
}

static void describe(struct v4l2_pix_format *p, const struct format *f) {
    memset(p, 0, sizeof *p);
    p->width = f->width;
    p->height = f->height;
    p->pixelformat = f->fourcc;
    p->field = V4L2_FIELD_NONE;
    p->bytesperline = f->fourcc == V4L2_PIX_FMT_YUYV ? f->width * 2 : 0;
    p->sizeimage = f->width * f->height * 2;
    p->colorspace = V4L2_COLORSPACE_SRGB;
}

/// Time of frame `n` since streaming started, at the offered rate.
static double frame_time(unsigned int n) { return (double)n / cam.fps; }

static double since_start(void) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - cam.started.tv_sec) + (double)(now.tv_nsec - cam.started.tv_nsec) / 1e9;
}

// Captures every frame due by now into a queued empty buffer, or drops it when none is free.
static void capture_due(void) {
    while (cam.streaming && since_start() >= frame_time(cam.captured)) {
        for (int i = 0; i < cam.buffer_count; i++) {
            if (cam.queued[i] && cam.holds[i] < 0) { cam.holds[i] = (int)cam.captured; break; }
        }
        cam.captured++;
    }
}

// The filled buffer holding the oldest frame, or -1.
static int oldest_filled(void) {
    int oldest = -1;
    for (int i = 0; i < cam.buffer_count; i++) {
        if (cam.queued[i] && cam.holds[i] >= 0 && (oldest < 0 || cam.holds[i] < cam.holds[oldest])) oldest = i;
    }
    return oldest;
}

static int fill(int index, struct v4l2_buffer *b) {
    const struct format *f = &cam.formats[cam.chosen];
    if (f->frame_count == 0) { errno = EIO; return -1; }
    unsigned int frame = (unsigned)cam.holds[index];
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", f->folder, f->frames[frame % f->frame_count]);
    FILE *file = fopen(path, "rb");
    size_t size = file ? fread(cam.memory + (size_t)index * cam.buffer_size, 1, cam.buffer_size, file) : 0;
    if (file) fclose(file);
    if (strcmp(cam.fault, "corrupt") == 0 && frame == (unsigned)cam.fault_frame && size > 2) {
        // A JPEG start marker, then noise: no decoder can find an image in it (a cut-short JPEG would
        // decode, its missing rows grey, with only a warning).
        memset(cam.memory + (size_t)index * cam.buffer_size + 2, 0x5a, size - 2);
    }
    cam.bytesused[index] = (unsigned)size;
    memset(b, 0, sizeof *b);
    b->index = (unsigned)index;
    b->type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
    b->memory = V4L2_MEMORY_MMAP;
    b->bytesused = (unsigned)size;
    b->length = (unsigned)cam.buffer_size;
    b->m.offset = (unsigned)((size_t)index * cam.buffer_size);
    b->flags = V4L2_BUF_FLAG_MAPPED | V4L2_BUF_FLAG_DONE | V4L2_BUF_FLAG_TIMESTAMP_MONOTONIC;
    b->sequence = frame;
    double at = frame_time(frame);
    double whole = (double)cam.started.tv_sec + (double)cam.started.tv_nsec / 1e9 + at;
    b->timestamp.tv_sec = (time_t)whole;
    b->timestamp.tv_usec = (suseconds_t)((whole - (double)(time_t)whole) * 1e6);
    cam.queued[index] = 0;
    cam.holds[index] = -1;
    return 0;
}

static int fake_ioctl(unsigned long request, void *argument) {
    static int dequeues = 0;
    if (cam.trace) fprintf(stderr, "fake-webcam: ioctl %08lx\n", request);
    switch (request) {
    case VIDIOC_QUERYCAP: {
        struct v4l2_capability *c = argument;
        memset(c, 0, sizeof *c);
        snprintf((char *)c->driver, sizeof c->driver, "uvcvideo");
        snprintf((char *)c->card, sizeof c->card, "Fake Webcam");
        snprintf((char *)c->bus_info, sizeof c->bus_info, "usb-fake-1");
        c->version = 0x060100;
        unsigned int caps = strcmp(cam.fault, "not-capture") == 0 ? V4L2_CAP_META_CAPTURE : V4L2_CAP_VIDEO_CAPTURE | V4L2_CAP_STREAMING;
        c->device_caps = caps;
        c->capabilities = caps | V4L2_CAP_DEVICE_CAPS;
        return 0;
    }
    case VIDIOC_ENUM_FMT: {
        struct v4l2_fmtdesc *d = argument;
        if (d->type != V4L2_BUF_TYPE_VIDEO_CAPTURE) { errno = EINVAL; return -1; }
        unsigned int seen = 0, last = 0;
        for (size_t i = 0; i < cam.format_count; i++) {
            if (cam.formats[i].fourcc == last) continue;
            last = cam.formats[i].fourcc;
            if (seen++ == d->index) {
                unsigned int index = d->index;
                memset(d, 0, sizeof *d);
                d->index = index;
                d->type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
                d->pixelformat = last;
                d->flags = last == V4L2_PIX_FMT_MJPEG ? V4L2_FMT_FLAG_COMPRESSED : 0;
                snprintf((char *)d->description, sizeof d->description, last == V4L2_PIX_FMT_MJPEG ? "Motion-JPEG" : "YUYV 4:2:2");
                return 0;
            }
        }
        errno = EINVAL;
        return -1;
    }
    case VIDIOC_ENUM_FRAMESIZES: {
        struct v4l2_frmsizeenum *s = argument;
        unsigned int seen = 0;
        for (size_t i = 0; i < cam.format_count; i++) {
            if (cam.formats[i].fourcc != s->pixel_format || seen++ != s->index) continue;
            s->type = V4L2_FRMSIZE_TYPE_DISCRETE;
            s->discrete.width = cam.formats[i].width;
            s->discrete.height = cam.formats[i].height;
            return 0;
        }
        errno = EINVAL;
        return -1;
    }
    case VIDIOC_ENUM_FRAMEINTERVALS: {
        struct v4l2_frmivalenum *v = argument;
        if (v->index != 0 || nearest(v->pixel_format, v->width, v->height) < 0) { errno = EINVAL; return -1; }
        v->type = V4L2_FRMIVAL_TYPE_DISCRETE;
        v->discrete.numerator = 1;
        v->discrete.denominator = cam.fps;
        return 0;
    }
    case VIDIOC_G_FMT: case VIDIOC_S_FMT: case VIDIOC_TRY_FMT: {
        struct v4l2_format *f = argument;
        if (f->type != V4L2_BUF_TYPE_VIDEO_CAPTURE || cam.format_count == 0) { errno = EINVAL; return -1; }
        int chosen = cam.chosen;
        if (request != VIDIOC_G_FMT) {
            chosen = nearest(f->fmt.pix.pixelformat, f->fmt.pix.width, f->fmt.pix.height);
            if (chosen < 0) chosen = nearest(0, f->fmt.pix.width, f->fmt.pix.height);   // a driver answers with what it has
            if (request == VIDIOC_S_FMT) {
                if (cam.streaming) { errno = EBUSY; return -1; }
                cam.chosen = chosen;
                const struct format *c = &cam.formats[chosen];
                note("S_FMT %s %ux%u", c->fourcc == V4L2_PIX_FMT_MJPEG ? "MJPG" : "YUYV", c->width, c->height);
            }
        }
        describe(&f->fmt.pix, &cam.formats[chosen]);
        return 0;
    }
    case VIDIOC_G_PARM: case VIDIOC_S_PARM: {
        struct v4l2_streamparm *p = argument;
        if (p->type != V4L2_BUF_TYPE_VIDEO_CAPTURE) { errno = EINVAL; return -1; }
        if (request == VIDIOC_S_PARM && p->parm.capture.timeperframe.numerator > 0) {
            note("S_PARM %u/%u", p->parm.capture.timeperframe.denominator, p->parm.capture.timeperframe.numerator);
        }
        memset(&p->parm.capture, 0, sizeof p->parm.capture);
        p->parm.capture.capability = V4L2_CAP_TIMEPERFRAME;
        p->parm.capture.timeperframe.numerator = 1;
        p->parm.capture.timeperframe.denominator = cam.fps;   // only the rate it has
        return 0;
    }
    case VIDIOC_REQBUFS: {
        struct v4l2_requestbuffers *r = argument;
        if (r->memory != V4L2_MEMORY_MMAP || r->type != V4L2_BUF_TYPE_VIDEO_CAPTURE) { errno = EINVAL; return -1; }
        if (cam.streaming) { errno = EBUSY; return -1; }
        const struct format *f = &cam.formats[cam.chosen];
        cam.buffer_size = ((size_t)f->width * f->height * 2 + 4095) & ~(size_t)4095;
        if (cam.memory) real_munmap(cam.memory, cam.buffer_size * BUFFERS);
        cam.memory = NULL;
        cam.buffer_count = r->count > BUFFERS ? BUFFERS : (int)r->count;
        if (cam.buffer_count > 0) {
            cam.memory = real_mmap(NULL, cam.buffer_size * BUFFERS, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
            if (cam.memory == MAP_FAILED) { cam.memory = NULL; errno = ENOMEM; return -1; }
        }
        empty_buffers();
        r->count = (unsigned)cam.buffer_count;
        r->capabilities = V4L2_BUF_CAP_SUPPORTS_MMAP;
        return 0;
    }
    case VIDIOC_QUERYBUF: case VIDIOC_QBUF: {
        struct v4l2_buffer *b = argument;
        if (b->index >= (unsigned)cam.buffer_count || b->memory != V4L2_MEMORY_MMAP) { errno = EINVAL; return -1; }
        if (request == VIDIOC_QBUF) { cam.queued[b->index] = 1; cam.holds[b->index] = -1; }
        unsigned int index = b->index;
        memset(b, 0, sizeof *b);
        b->index = index;
        b->type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
        b->memory = V4L2_MEMORY_MMAP;
        b->length = (unsigned)cam.buffer_size;
        b->m.offset = (unsigned)((size_t)index * cam.buffer_size);
        b->flags = V4L2_BUF_FLAG_MAPPED | (cam.queued[index] ? V4L2_BUF_FLAG_QUEUED : 0);
        return 0;
    }
    case VIDIOC_STREAMON:
        cam.streaming = 1;
        cam.captured = 0;
        clock_gettime(CLOCK_MONOTONIC, &cam.started);
        return 0;
    case VIDIOC_STREAMOFF:   // every buffer goes back to the program, filled or not
        cam.streaming = 0;
        empty_buffers();
        return 0;
    case VIDIOC_DQBUF: {
        if (!cam.streaming) { errno = EINVAL; return -1; }
        if (strcmp(cam.fault, "eagain") == 0 || strcmp(cam.fault, "eintr") == 0) {
            if (++dequeues % 3 == 0) { errno = cam.fault[1] == 'a' ? EAGAIN : EINTR; return -1; }
        }
        if (strcmp(cam.fault, "silent") == 0) { errno = EAGAIN; return -1; }
        capture_due();
        int oldest = oldest_filled();
        if (strcmp(cam.fault, "unplug") == 0 && (oldest >= 0 ? (unsigned)cam.holds[oldest] : cam.captured) >= (unsigned)cam.fault_frame) {
            errno = ENODEV;
            return -1;
        }
        if (oldest < 0) { errno = EAGAIN; return -1; }
        return fill(oldest, argument);
    }
    default:
        errno = EINVAL;   // controls, inputs, standards: a plain webcam has none we offer
        return -1;
    }
}

// MARK: the calls we answer

int openat(int dirfd, const char *path, int flags, ...) {
    setup();
    if (is_device(path)) return fake_open();
    va_list arguments;
    va_start(arguments, flags);
    mode_t mode = (flags & (O_CREAT | O_TMPFILE)) ? va_arg(arguments, mode_t) : 0;
    va_end(arguments);
    return real_openat(dirfd, path, flags, mode);
}

int open(const char *path, int flags, ...) {
    setup();
    if (is_device(path)) return fake_open();
    va_list arguments;
    va_start(arguments, flags);
    mode_t mode = (flags & (O_CREAT | O_TMPFILE)) ? va_arg(arguments, mode_t) : 0;
    va_end(arguments);
    return real_openat(AT_FDCWD, path, flags, mode);
}

int open64(const char *path, int flags, ...) __attribute__((alias("open")));
int openat64(int dirfd, const char *path, int flags, ...) __attribute__((alias("openat")));

int ioctl(int fd, unsigned long request, ...) {
    setup();
    va_list arguments;
    va_start(arguments, request);
    void *argument = va_arg(arguments, void *);
    va_end(arguments);
    if (fd >= 0 && fd == cam.fd) return fake_ioctl(request, argument);
    return real_ioctl(fd, request, argument);
}

int close(int fd) {
    setup();
    if (fd >= 0 && fd == cam.fd) {
        cam.fd = -1;
        cam.streaming = 0;
    }
    return real_close(fd);
}

void *mmap(void *address, size_t length, int protection, int flags, int fd, off_t offset) {
    setup();
    if (fd >= 0 && fd == cam.fd) {
        if (!cam.memory || (size_t)offset + length > cam.buffer_size * (size_t)cam.buffer_count) { errno = EINVAL; return MAP_FAILED; }
        return cam.memory + offset;
    }
    return real_mmap(address, length, protection, flags, fd, offset);
}

int munmap(void *address, size_t length) {
    setup();
    if (cam.memory && (unsigned char *)address >= cam.memory && (unsigned char *)address < cam.memory + cam.buffer_size * BUFFERS) return 0;
    return real_munmap(address, length);
}

int poll(struct pollfd *fds, nfds_t count, int timeout) {
    setup();
    for (nfds_t i = 0; i < count; i++) {
        if (fds[i].fd != cam.fd || cam.fd < 0) continue;
        // Ready at once when a buffer is filled; else wait until the next frame is due (or the timeout).
        capture_due();
        int oldest = oldest_filled(), queued = 0;
        for (int b = 0; b < cam.buffer_count; b++) queued |= cam.queued[b];
        unsigned int next = oldest >= 0 ? (unsigned)cam.holds[oldest] : cam.captured;
        if (strcmp(cam.fault, "unplug") == 0 && next >= (unsigned)cam.fault_frame) { fds[i].revents = POLLERR; return 1; }
        double wait = strcmp(cam.fault, "silent") == 0 || !cam.streaming || !queued ? 1e9
            : oldest >= 0 ? 0 : frame_time(cam.captured) - since_start();
        if (timeout >= 0 && wait * 1000 > timeout) { usleep((useconds_t)timeout * 1000); fds[i].revents = 0; return 0; }
        if (wait > 0) usleep((useconds_t)(wait * 1e6));
        fds[i].revents = POLLIN;
        return 1;
    }
    return real_poll(fds, count, timeout);
}

// libv4l2 and libv4lconvert reach the kernel through syscall(): openat, ioctl, mmap, munmap, close.
long syscall(long number, ...) {
    setup();
    va_list arguments;
    va_start(arguments, number);
    long a = va_arg(arguments, long), b = va_arg(arguments, long), c = va_arg(arguments, long);
    long d = va_arg(arguments, long), e = va_arg(arguments, long), f = va_arg(arguments, long);
    va_end(arguments);
    switch (number) {
    case SYS_openat:
        if (is_device((const char *)b)) return fake_open();
        break;
#ifdef SYS_open
    case SYS_open:
        if (is_device((const char *)a)) return fake_open();
        break;
#endif
    case SYS_ioctl:
        if ((int)a == cam.fd && cam.fd >= 0) return fake_ioctl((unsigned long)b, (void *)c);
        break;
    case SYS_mmap:
        if ((int)e == cam.fd && cam.fd >= 0) return (long)mmap((void *)a, (size_t)b, (int)c, (int)d, (int)e, (off_t)f);
        break;
    case SYS_munmap:
        return munmap((void *)a, (size_t)b);
    case SYS_close:
        if ((int)a == cam.fd && cam.fd >= 0) return close((int)a);
        break;
    }
    return real_syscall(number, a, b, c, d, e, f);
}
