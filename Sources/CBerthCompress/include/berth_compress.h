// zlib (gzip layers) and zstd (zstd layers) from the system. No code of ours: the header only
// brings both libraries' declarations into Swift.
#ifndef BERTH_COMPRESS_H
#define BERTH_COMPRESS_H
#include <zlib.h>
#include <zstd.h>
#endif
