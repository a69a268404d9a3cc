#include "pngencode.h"
#include <png.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    unsigned char *data;
    size_t size, capacity;
    char *message;
    size_t message_size;
} antema_png_sink;

static void sink_write(png_structp png, png_bytep bytes, png_size_t n) {
    antema_png_sink *s = png_get_io_ptr(png);
    if (s->size + n > s->capacity) {
        size_t capacity = s->capacity ? s->capacity : 65536;
        while (capacity < s->size + n) capacity *= 2;
        unsigned char *grown = realloc(s->data, capacity);
        if (!grown) png_error(png, "out of memory");
        s->data = grown;
        s->capacity = capacity;
    }
    memcpy(s->data + s->size, bytes, n);
    s->size += n;
}

static void sink_flush(png_structp png) { (void)png; }

static void on_error(png_structp png, png_const_charp text) {
    antema_png_sink *s = png_get_error_ptr(png);
    if (s->message && s->message_size) {
        strncpy(s->message, text, s->message_size - 1);
        s->message[s->message_size - 1] = 0;
    }
    png_longjmp(png, 1);
}

static void on_warning(png_structp png, png_const_charp text) { (void)png; (void)text; }

int antema_png_encode(const unsigned char *pixels, int width, int height, int channels,
                      int level, int filter, unsigned int pixels_per_metre, unsigned char **out, size_t *out_size,
                      char *message, size_t message_size) {
    antema_png_sink sink = {NULL, 0, 0, message, message_size};
    if (message && message_size) message[0] = 0;
    if (width <= 0 || height <= 0 || (channels != 1 && channels != 3)) {
        if (message && message_size) strncpy(message, "bad image size or channel count", message_size - 1);
        return -1;
    }
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &sink, on_error, on_warning);
    if (!png) return -1;
    png_infop info = png_create_info_struct(png);
    /* sink.data may change inside the jump buffer's scope: it is reached through &sink only */
    if (!info || setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, info ? &info : NULL);
        free(sink.data);
        return -1;
    }
    png_set_write_fn(png, &sink, sink_write, sink_flush);
    png_set_IHDR(png, info, (png_uint_32)width, (png_uint_32)height, 8,
                 channels == 1 ? PNG_COLOR_TYPE_GRAY : PNG_COLOR_TYPE_RGB,
                 PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    if (pixels_per_metre > 0) png_set_pHYs(png, info, pixels_per_metre, pixels_per_metre, PNG_RESOLUTION_METER);
    png_set_compression_level(png, level);
    if (filter >= 0) {
        int flags = filter == 0 ? PNG_FILTER_NONE : filter == 1 ? PNG_FILTER_SUB : PNG_FILTER_UP;
        png_set_filter(png, PNG_FILTER_TYPE_BASE, flags);
    }
    png_write_info(png, info);
    size_t stride = (size_t)width * (size_t)channels;
    for (int y = 0; y < height; y++) png_write_row(png, pixels + (size_t)y * stride);
    png_write_end(png, info);
    png_destroy_write_struct(&png, &info);
    *out = sink.data;
    *out_size = sink.size;
    return 0;
}

void antema_png_free(unsigned char *data) { free(data); }
