// Non-variadic wrappers around libtiff for Swift (which cannot call C variadic functions).
#ifndef ANTEMA_TIFFSHIM_H
#define ANTEMA_TIFFSHIM_H
#include <stdint.h>
#include <stddef.h>

typedef struct tiff TIFF;

/// Opens a file for reading; errors and warnings are kept (not printed) and can be read with
/// tiffshim_last_error. Returns NULL on failure.
TIFF *tiffshim_open(const char *path);
void tiffshim_close(TIFF *tif);
const char *tiffshim_last_error(void);

int tiffshim_get_u16(TIFF *tif, uint32_t tag, uint16_t *value);
int tiffshim_get_u32(TIFF *tif, uint32_t tag, uint32_t *value);
int tiffshim_get_float(TIFF *tif, uint32_t tag, float *value);
/// ASCII tags (ImageDescription); the pointer stays valid while the file is open.
int tiffshim_get_string(TIFF *tif, uint32_t tag, const char **value);

int64_t tiffshim_scanline_size(TIFF *tif);
int tiffshim_read_scanline(TIFF *tif, void *buffer, uint32_t row, uint16_t sample);
/// Reads the whole image as 8-bit RGBA (any photometric interpretation libtiff understands).
int tiffshim_read_rgba(TIFF *tif, uint32_t width, uint32_t height, uint32_t *raster);
int tiffshim_is_tiled(TIFF *tif);

/// Writes a single-channel 8- or 16-bit image (for tests and reports).
int tiffshim_write_gray(const char *path, uint32_t width, uint32_t height, uint16_t bits, const void *pixels,
                        const char *description, float xres, float yres);
#endif
