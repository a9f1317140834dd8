/*
 * netc_test.h — the generated net a check program is built against.
 *
 * The programs that test generated code (tests/gradcheck/gradcheck.c,
 * tests/reference/train_check.c) are compiled once per net with -DNET=<name>
 * and -I<dir of the generated C>. This header includes that net's <name>.h
 * and gives API(x), the net's symbol <name>_x:
 *
 *   #include "../lib/netc_test.h"
 *   static const NnrtModelDesc *d = &API(desc);    // NET_desc
 */
#ifndef NETC_TEST_H
#define NETC_TEST_H

#ifndef NET
#error "build with -DNET=<net name>"
#endif

#define CAT2(a, b) a##b
#define CAT(a, b) CAT2(a, b)
#define STR2(a) #a
#define STR(a) STR2(a)
#define API(x) CAT(NET, CAT(_, x))

#include STR(NET.h)

#endif
