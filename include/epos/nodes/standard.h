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
// split, collect, join, reply, throw, sleep, log and nop. Errors: as for Scheme::Register
// (a name already taken, e.g. by a kind registered earlier); registration stops at the
// first.
[[nodiscard]] Status RegisterControlKinds(Scheme& scheme);

// Every built-in kind: the control kinds, sql and sql.pool (nodes/sql.h), http.listener and
// http.router with their aliases listener and router (nodes/http.h), http.client and its
// alias http (nodes/http_client.h). Errors: as for RegisterControlKinds.
[[nodiscard]] Status RegisterStandardKinds(Scheme& scheme);

// A Scheme holding exactly the built-in kinds. Cannot fail: two built-in kinds sharing a
// name is a programmer error, which aborts with a message.
Scheme StandardScheme();

}  // namespace epos

#endif  // EPOS_NODES_STANDARD_H_
