/* The library's version, written into every file it makes. */
#ifndef ML_CORE_VERSION_H
#define ML_CORE_VERSION_H

#define ML_VERSION "0.1.0"

#endif
