#include "tiffshim.h"
#include <tiffio.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static __thread char last_error[512];

static void keep_error(const char *module, const char *fmt, va_list ap) {
    char message[400];
    vsnprintf(message, sizeof message, fmt, ap);
    snprintf(last_error, sizeof last_error, "%s%s%s", module ? module : "", module ? ": " : "", message);
}

static void ignore_warning(const char *module, const char *fmt, va_list ap) {
    (void)module; (void)fmt; (void)ap;
}

TIFF *tiffshim_open(const char *path) {
    TIFFSetErrorHandler(keep_error);
    TIFFSetWarningHandler(ignore_warning);
    last_error[0] = 0;
    return TIFFOpen(path, "r");
}

void tiffshim_close(TIFF *tif) { if (tif) TIFFClose(tif); }
const char *tiffshim_last_error(void) { return last_error; }

int tiffshim_get_u16(TIFF *tif, uint32_t tag, uint16_t *value) { return TIFFGetField(tif, tag, value); }
int tiffshim_get_u32(TIFF *tif, uint32_t tag, uint32_t *value) { return TIFFGetField(tif, tag, value); }
int tiffshim_get_float(TIFF *tif, uint32_t tag, float *value) { return TIFFGetField(tif, tag, value); }
int tiffshim_get_string(TIFF *tif, uint32_t tag, const char **value) { return TIFFGetField(tif, tag, value); }

int64_t tiffshim_scanline_size(TIFF *tif) { return (int64_t)TIFFScanlineSize64(tif); }
int tiffshim_read_scanline(TIFF *tif, void *buffer, uint32_t row, uint16_t sample) {
    return TIFFReadScanline(tif, buffer, row, sample);
}
int tiffshim_read_rgba(TIFF *tif, uint32_t width, uint32_t height, uint32_t *raster) {
    return TIFFReadRGBAImageOriented(tif, width, height, raster, ORIENTATION_TOPLEFT, 0);
}
int tiffshim_is_tiled(TIFF *tif) { return TIFFIsTiled(tif); }

int tiffshim_write_gray(const char *path, uint32_t width, uint32_t height, uint16_t bits, const void *pixels,
                        const char *description, float xres, float yres) {
    TIFFSetErrorHandler(keep_error);
    TIFF *tif = TIFFOpen(path, "w");
    if (!tif) return 0;
    TIFFSetField(tif, TIFFTAG_IMAGEWIDTH, width);
    TIFFSetField(tif, TIFFTAG_IMAGELENGTH, height);
    TIFFSetField(tif, TIFFTAG_BITSPERSAMPLE, bits);
    TIFFSetField(tif, TIFFTAG_SAMPLESPERPIXEL, 1);
    TIFFSetField(tif, TIFFTAG_PHOTOMETRIC, PHOTOMETRIC_MINISBLACK);
    TIFFSetField(tif, TIFFTAG_PLANARCONFIG, PLANARCONFIG_CONTIG);
    TIFFSetField(tif, TIFFTAG_ROWSPERSTRIP, height);
    if (description) TIFFSetField(tif, TIFFTAG_IMAGEDESCRIPTION, description);
    if (xres > 0 && yres > 0) {
        TIFFSetField(tif, TIFFTAG_XRESOLUTION, xres);
        TIFFSetField(tif, TIFFTAG_YRESOLUTION, yres);
        TIFFSetField(tif, TIFFTAG_RESOLUTIONUNIT, RESUNIT_NONE);
    }
    size_t row_bytes = (size_t)width * (bits / 8);
    for (uint32_t r = 0; r < height; r++) {
        if (TIFFWriteScanline(tif, (void *)((const char *)pixels + r * row_bytes), r, 0) < 0) { TIFFClose(tif); return 0; }
    }
    TIFFClose(tif);
    return 1;
}
