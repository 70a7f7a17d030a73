// The `sql` node and the `sql.pool` resource (DESIGN.md §5) on SQLite.
//
// sql.pool (a resource): `driver: sqlite`, `source` (a database file, relative to the spec
// file's directory, or ":memory:"), `size` (connections, default 4; a ":memory:" pool has
// one, since each connection would see its own empty database), `migrations` (optional: a
// list of SQL scripts, each of one or more statements, applied in order exactly once per
// database).
//
// Nothing is opened when the spec compiles, so `epos validate` (and `epos graph`) never
// create or touch the database; only the directory the file would go in is checked then.
// The pool opens its database, creating the file, when its first statement runs (for
// `epos run`, the first request that reaches a sql node; for `epos call`, the call) and
// applies the pending migrations before that statement, once, even when many statements
// arrive at the same moment. Migration i (0-based) runs in its own transaction when the
// database's `PRAGMA user_version` is below i+1 and sets it to i+1; a database already at
// or past the list is left alone, and a script must not hold BEGIN/COMMIT itself (see
// SqlitePool::Prepare). So `migrations` is append-only: add a script for every change and
// never edit one that has run somewhere. When a migration fails it is rolled back and
// every statement on the pool fails, on its node's `error` port, with
// `sql.pool "db": migrations[1] failed: sqlite: <message>` until the pool is rebuilt (a
// restart, or a reload under `epos run --watch`).
//
// sql (in → out, error): `resource: <sql.pool name>`, or `driver` + `source` for a private
// pool of one connection (no migrations). Input: "query", [query, arg...] or {query, args}
// where args is an array (positional ?) or a map (named :name). The statement runs on the
// blocking pool with its prepared form cached per connection and its parameters bound,
// never spliced; `out` gets the rows as an array of maps (an empty array for statements
// without results; use RETURNING to get generated ids). SQL errors go to `error` with the
// database's message. PostgreSQL (`driver: postgres`) is reserved for libpq and reported as
// not supported yet.
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

// Registers the kinds `sql.pool` and `sql`. Errors: as for Scheme::Register (a name
// already taken); registration stops at the first.
[[nodiscard]] Status RegisterSqlKinds(Scheme& scheme);

}  // namespace epos

#endif  // EPOS_NODES_SQL_H_
