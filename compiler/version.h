/* version.h — the one place the version is written. */
#ifndef NETC_VERSION_H
#define NETC_VERSION_H
#define NETC_VERSION "0.1.0"
#endif
