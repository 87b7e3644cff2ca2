// Extended attributes: the Glibc module does not export <sys/xattr.h>, so this header brings
// fsetxattr/lsetxattr/llistxattr/lgetxattr into Swift (layer extraction and diffs). No code.
#ifndef BERTH_XATTR_H
#define BERTH_XATTR_H
#include <sys/types.h>
#include <sys/xattr.h>
#endif
