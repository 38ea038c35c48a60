/* SPDX-License-Identifier: MIT */
#ifndef SG_FORMATS_PPROF_PB_H
#define SG_FORMATS_PPROF_PB_H

/*
 * Short names for the messages protoc-c generates from proto/profile.proto
 * (into the build directory), for the pprof writer and reader and the
 * tests that build or take apart pprof files by hand.
 */

#include "profile.pb-c.h"

typedef Perftools__Profiles__Profile pb_profile;
typedef Perftools__Profiles__ValueType pb_value_type;
typedef Perftools__Profiles__Sample pb_sample;
typedef Perftools__Profiles__Label pb_label;
typedef Perftools__Profiles__Mapping pb_mapping;
typedef Perftools__Profiles__Location pb_location;
typedef Perftools__Profiles__Line pb_line;
typedef Perftools__Profiles__Function pb_function;

#endif
