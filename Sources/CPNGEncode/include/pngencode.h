#ifndef ANTEMA_PNGENCODE_H
#define ANTEMA_PNGENCODE_H
#include <stddef.h>

/* Encodes 8-bit grey (channels 1) or RGB (channels 3) rows as a PNG in memory through libpng's
   full API, which (unlike the simplified one) sets the zlib level and the row filter.
   filter: 0 none, 1 sub, 2 up, -1 libpng's adaptive choice. pixels_per_metre: the resolution
   recorded in a pHYs chunk (0: none). On success returns 0 and *out holds
   *out_size bytes to release with antema_png_free; on failure returns -1 with libpng's message. */
int antema_png_encode(const unsigned char *pixels, int width, int height, int channels,
                      int level, int filter, unsigned int pixels_per_metre, unsigned char **out, size_t *out_size,
                      char *message, size_t message_size);
void antema_png_free(unsigned char *data);

#endif
