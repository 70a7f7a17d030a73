// The standard node kinds of DESIGN.md §5 and their registration into a Scheme.
//
// The scheme names no kind (DESIGN.md §2): every kind, built-in or from a plugin, is
// registered into it. This is where the built-in ones are listed.
//
// Thread-safety: registration modifies the Scheme; call it at start-up, before any other
// thread reads the Scheme (scheme.h).
#ifndef EPOS_NODES_STANDARD_H_
#define EPOS_NODES_STANDARD_H_

#include "epos/spec/scheme.h"

namespace epos {

// The kinds that need no network or database: snippet (lua, text, json, yaml), if, switch,
// split, collect, join, reply, throw, sleep, log and nop.
void RegisterControlKinds(Scheme& scheme);

// Every built-in kind: the control kinds, sql and sql.pool (nodes/sql.h), http.listener and
// http.router with their aliases listener and router (nodes/http.h), http.client and its
// alias http (nodes/http_client.h).
void RegisterStandardKinds(Scheme& scheme);

// A Scheme holding exactly the built-in kinds.
Scheme StandardScheme();

}  // namespace epos

#endif  // EPOS_NODES_STANDARD_H_
