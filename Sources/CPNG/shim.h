#include <png.h>

/* An upper bound on the PNG stream libpng's simplified API writes for `image` (the
   PNG_IMAGE_PNG_SIZE_MAX macro, which Swift cannot import). */
static inline size_t antema_png_size_max(const png_image *image) {
    return PNG_IMAGE_PNG_SIZE_MAX(*image);
}
