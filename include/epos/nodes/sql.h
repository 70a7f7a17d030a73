// The `sql` node and the `sql.pool` resource (DESIGN.md §5) on SQLite.
//
// sql.pool (a resource): `driver: sqlite`, `source` (a database file, relative to the spec
// file's directory, or ":memory:"), `size` (connections, default 4; a ":memory:" pool has
// one, since each connection would see its own empty database). The file is created on
// first use.
// sql (in → out, error): `resource: <sql.pool name>`, or `driver` + `source` for a private
// pool of one connection. Input: "query", [query, arg...] or {query, args} where args is
// an array (positional ?) or a map (named :name). The statement runs on the blocking pool
// with its prepared form cached per connection and its parameters bound, never spliced;
// `out` gets the rows as an array of maps (an empty array for statements without results;
// use RETURNING to get generated ids). SQL errors go to `error` with the database's message.
// PostgreSQL (`driver: postgres`) is reserved for libpq and reported as not supported yet.
//
// Thread-safety: the node is immutable; the pool hands each blocking-pool thread its own
// connection.
#ifndef EPOS_NODES_SQL_H_
#define EPOS_NODES_SQL_H_

#include <memory>

#include "epos/graph/node.h"
#include "epos/spec/scheme.h"
#include "epos/sql/sqlite.h"

namespace epos {

// The pool behind a `sql.pool` spec.
class SqlPoolResource final : public Resource {
 public:
  explicit SqlPoolResource(std::shared_ptr<SqlitePool> pool) : pool_(std::move(pool)) {}
  const std::shared_ptr<SqlitePool>& pool() const { return pool_; }

 private:
  std::shared_ptr<SqlitePool> pool_;
};

std::unique_ptr<Node> MakeSqlNode(std::shared_ptr<SqlitePool> pool);

// Registers the kinds `sql.pool` and `sql`.
void RegisterSqlKinds(Scheme& scheme);

}  // namespace epos

#endif  // EPOS_NODES_SQL_H_
