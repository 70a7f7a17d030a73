// SQLite access for the `sql` node (DESIGN.md §5): one connection (SqliteDatabase) with a
// bounded cache of prepared statements, and a pool of connections (SqlitePool) for the
// blocking pool's threads.
//
// Parameters are always bound, never spliced into the SQL text. `args` is either
//   - positional: args[i] binds parameter i+1 (`?`, `?NNN`, or a named parameter by its
//     index); the count must equal the statement's highest parameter index; or
//   - named: exactly one map argument; key "id" binds `:id`, `@id` or `$id` (a key may
//     also carry its prefix, ":id"). Every parameter must be given and every key used.
// Bound types: null → NULL, bool → INTEGER 0/1, int → INTEGER, double → REAL, string →
// TEXT, bytes → BLOB. A nested array or map is rejected (kInvalidArgument) rather than
// silently encoded; encode it as JSON text first when that is what the column holds.
//
// Rows come back as an array of maps, column name → value (INTEGER → int, REAL → double,
// TEXT → string, BLOB → bytes, NULL → null), in column order; when two columns share a
// name the last one wins (alias them: `SELECT a.id AS a_id, b.id AS b_id`).
//
// Errors are values: kInvalidArgument with SQLite's message for bad SQL, constraint
// violations and binding mistakes (`sqlite: no such table: orders`), kUnavailable for a
// busy/locked database or I/O failure, kDeadlineExceeded for SqlitePool::Acquire's timeout.
#ifndef EPOS_SQL_SQLITE_H_
#define EPOS_SQL_SQLITE_H_

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "epos/core/status.h"
#include "epos/core/value.h"

struct sqlite3;
struct sqlite3_stmt;

namespace epos {

struct SqliteOptions {
  std::string path = ":memory:";  // a file name, or ":memory:"
  bool read_only = false;         // SQLITE_OPEN_READONLY; else READWRITE
  bool create = true;             // create the file when missing (ignored when read_only)
  // Files (not :memory:, not read_only) switch to journal_mode=WAL, synchronous=NORMAL.
  bool wal = true;
  std::chrono::milliseconds busy_timeout{5000};  // wait this long for a lock, then kUnavailable
  std::size_t statement_cache_size = 64;         // prepared statements kept per connection
};

// The outcome of one statement.
struct SqlResult {
  Value rows;                       // array of row maps; [] for statements without columns
  std::int64_t changes = 0;         // rows changed by an INSERT/UPDATE/DELETE (sqlite3_changes64)
  std::int64_t last_insert_id = 0;  // sqlite3_last_insert_rowid after the statement
};

// One SQLite connection. Foreign keys are on. Not thread-safe: use it from one thread at a
// time (the connection is opened SQLITE_OPEN_NOMUTEX); SqlitePool hands connections out
// exclusively. Owns its sqlite3 handle and its cached statements.
class SqliteDatabase {
 public:
  [[nodiscard]] static Result<std::unique_ptr<SqliteDatabase>> Open(const SqliteOptions& options);
  ~SqliteDatabase();
  SqliteDatabase(const SqliteDatabase&) = delete;
  SqliteDatabase& operator=(const SqliteDatabase&) = delete;

  // Runs exactly one statement (trailing ';', whitespace and comments allowed; a second
  // statement is kInvalidArgument: use ExecuteScript). Binds `args` as described above.
  // The prepared statement is cached by its SQL text (LRU, options.statement_cache_size).
  [[nodiscard]] Result<SqlResult> Execute(std::string_view sql, std::span<const Value> args = {});
  // `args` null (no parameters), an array (positional) or a map (named).
  [[nodiscard]] Result<SqlResult> Execute(std::string_view sql, const Value& args);

  // Runs every statement in `sql` (sqlite3_exec) without parameters or results: schema
  // migrations, BEGIN/COMMIT scripts. Stops at the first error and returns it; statements
  // before it stay applied unless the script wrapped them in a transaction.
  [[nodiscard]] Status ExecuteScript(std::string_view sql);

  // Statements compiled so far (cache misses); for tests of the cache.
  std::uint64_t prepare_count() const { return prepare_count_; }
  std::size_t cached_statements() const { return cache_.size(); }

  sqlite3* handle() const { return db_; }

 private:
  struct CachedStatement {
    std::string sql;
    sqlite3_stmt* stmt;
  };
  struct StringHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };

  SqliteDatabase(sqlite3* db, std::size_t cache_size) : db_(db), cache_size_(cache_size) {}
  [[nodiscard]] Result<sqlite3_stmt*> Prepare(std::string_view sql);
  [[nodiscard]] Status Bind(sqlite3_stmt* stmt, std::span<const Value> args);
  Error LastError(std::string_view prefix = {}) const;

  sqlite3* db_;
  std::size_t cache_size_;
  std::uint64_t prepare_count_ = 0;
  std::list<CachedStatement> lru_;  // most recently used first
  std::unordered_map<std::string, std::list<CachedStatement>::iterator, StringHash, std::equal_to<>>
      cache_;
};

// What a pool connects to, how many connections it may open, and the schema migrations
// it applies before the first statement runs.
struct SqlitePoolOptions {
  SqliteOptions connection;
  std::size_t size = 4;  // connections at most (>= 1); a ":memory:" database gets 1
  // SQL scripts (several statements each, run with ExecuteScript), applied in order exactly
  // once per database; see SqlitePool::Prepare.
  std::vector<std::string> migrations;
  // Names the pool in preparation errors, e.g. `sql.pool "db"`; empty: the path.
  std::string name;
};

// A set of up to `size` connections to one database, for blocking-pool threads.
//
// Connections are opened on demand: nothing touches the database (or creates its file)
// until the first Acquire, which runs Prepare. Further connections are opened when every
// open one is leased, up to `size`.
//
// Thread-safety: Prepare/Acquire/Execute/available may be called from any thread. A Lease
// gives its holder the connection exclusively until the Lease is destroyed; leases must not
// outlive the pool (asserted at destruction). Prepare runs once: concurrent first callers
// wait for the one that runs it and all see its outcome.
//
// A ":memory:" database is private to its connection, so a pool on ":memory:" holds one
// connection whatever `size` asks.
class SqlitePool {
 public:
  class Lease {
   public:
    Lease(Lease&& other) noexcept : pool_(other.pool_), db_(other.db_) { other.pool_ = nullptr; }
    Lease& operator=(Lease&&) = delete;
    ~Lease();
    SqliteDatabase* operator->() const { return db_; }
    SqliteDatabase& operator*() const { return *db_; }

   private:
    friend class SqlitePool;
    Lease(SqlitePool* pool, SqliteDatabase* db) : pool_(pool), db_(db) {}
    SqlitePool* pool_;
    SqliteDatabase* db_;
  };

  // A pool that has opened nothing yet (see above). Never fails: problems with the
  // database show up at Prepare / the first Acquire.
  static std::unique_ptr<SqlitePool> Create(SqlitePoolOptions options);
  // Opens `size` (>= 1) connections up front, without migrations; the first error is
  // returned.
  [[nodiscard]] static Result<std::unique_ptr<SqlitePool>> Open(const SqliteOptions& options,
                                                                std::size_t size);
  ~SqlitePool();

  // Opens the first connection (creating the file unless read-only or create=false) and
  // applies the pending migrations; later calls return the first call's outcome at once.
  //
  // Migrations are tracked with SQLite's `PRAGMA user_version`: migration i (0-based) runs
  // when user_version < i+1, inside its own `BEGIN IMMEDIATE` transaction that re-reads
  // user_version (so another process migrating the same file at the same time cannot make
  // it run twice) and sets user_version = i+1 before COMMIT. A script must therefore not
  // hold BEGIN/COMMIT itself. A database whose user_version is at or past the number of
  // migrations is left alone.
  //
  // Errors are sticky: when the database cannot be opened or a migration fails (it is
  // rolled back), this and every later Prepare/Acquire/Execute return the same error,
  // `<name>: migrations[i] failed: sqlite: <message>` or `<name>: sqlite: open ...`.
  // A new pool (a restart, a reloaded spec) tries again.
  [[nodiscard]] Status Prepare();

  // Prepare, then blocks until a connection is free (opening one when allowed). Errors:
  // the preparation error; an open error for an additional connection (not sticky).
  [[nodiscard]] Result<Lease> Acquire();
  // As Acquire, waiting at most `timeout` for a free connection; kDeadlineExceeded naming
  // the database when none frees up.
  [[nodiscard]] Result<Lease> Acquire(std::chrono::nanoseconds timeout);
  // Acquire + SqliteDatabase::Execute.
  [[nodiscard]] Result<SqlResult> Execute(std::string_view sql, std::span<const Value> args = {});

  // Connections this pool may open.
  std::size_t size() const { return capacity_; }
  // Connections an Acquire could have now without waiting: free ones plus ones not yet
  // opened.
  std::size_t available() const;

 private:
  explicit SqlitePool(SqlitePoolOptions options);
  [[nodiscard]] Result<Lease> AcquireUntil(
      std::optional<std::chrono::steady_clock::time_point> deadline);
  // Opens one more connection (reserved by the caller under mu_).
  [[nodiscard]] Result<std::unique_ptr<SqliteDatabase>> OpenConnection();
  // Applies options_.migrations on `db`.
  [[nodiscard]] Status Migrate(SqliteDatabase& db);
  void Release(SqliteDatabase* db);

  // Immutable after construction.
  const SqlitePoolOptions options_;
  const std::size_t capacity_;

  // Prepare's outcome: written once under prepare_mu_ before `prepared_` is set (release);
  // read after `prepared_` is seen set (acquire).
  std::mutex prepare_mu_;
  std::atomic<bool> prepared_{false};
  Status prepare_status_;

  mutable std::mutex mu_;
  std::condition_variable freed_;
  std::vector<std::unique_ptr<SqliteDatabase>> connections_;  // guarded by mu_
  std::vector<SqliteDatabase*> free_;                         // guarded by mu_
  std::size_t opening_ = 0;  // connections being opened outside mu_; guarded by mu_
};

}  // namespace epos

#endif  // EPOS_SQL_SQLITE_H_
