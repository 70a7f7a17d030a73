#include "epos/nodes/standard.h"

#include "epos/nodes/http.h"
#include "epos/nodes/http_client.h"
#include "epos/nodes/sql.h"

namespace epos {

void RegisterStandardKinds(Scheme& scheme) {
  RegisterControlKinds(scheme);
  RegisterSqlKinds(scheme);
  RegisterHttpServerKinds(scheme);
  RegisterHttpClientKind(scheme);
}

Scheme StandardScheme() {
  Scheme scheme;
  RegisterStandardKinds(scheme);
  return scheme;
}

}  // namespace epos
