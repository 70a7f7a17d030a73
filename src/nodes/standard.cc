#include "epos/nodes/standard.h"

#include <cstdio>
#include <cstdlib>

#include "epos/nodes/http.h"
#include "epos/nodes/http_client.h"
#include "epos/nodes/sql.h"

namespace epos {

Status RegisterStandardKinds(Scheme& scheme) {
  Status status = RegisterControlKinds(scheme);
  if (status) status = RegisterSqlKinds(scheme);
  if (status) status = RegisterHttpServerKinds(scheme);
  if (status) status = RegisterHttpClientKind(scheme);
  return status;
}

Scheme StandardScheme() {
  Scheme scheme;
  // The scheme is empty, so only two built-in kinds with one name can fail here: a bug in
  // this module, reported in every build type (an assert would vanish under NDEBUG).
  if (Status status = RegisterStandardKinds(scheme); !status) {
    std::fprintf(stderr, "epos: registering the built-in kinds: %s\n",
                 status.error().message.c_str());
    std::abort();
  }
  return scheme;
}

}  // namespace epos
