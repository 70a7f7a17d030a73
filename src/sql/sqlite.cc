#include "epos/sql/sqlite.h"

#include <algorithm>
#include <cassert>
#include <utility>

#include <sqlite3.h>

namespace epos {

namespace {

ErrorCode CodeFor(int rc) {
  switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_IOERR:
    case SQLITE_FULL:
    case SQLITE_CANTOPEN:
    case SQLITE_PROTOCOL:
    case SQLITE_NOMEM:
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      return ErrorCode::kUnavailable;
    default:
      return ErrorCode::kInvalidArgument;
  }
}

bool IsMemoryPath(std::string_view path) {
  return path.empty() || path == ":memory:" || path.find("mode=memory") != std::string_view::npos;
}

Value ColumnValue(sqlite3_stmt* stmt, int i) {
  switch (sqlite3_column_type(stmt, i)) {
    case SQLITE_INTEGER:
      return Value(static_cast<long long>(sqlite3_column_int64(stmt, i)));
    case SQLITE_FLOAT:
      return Value(sqlite3_column_double(stmt, i));
    case SQLITE_TEXT: {
      const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(stmt, i));
      return Value(std::string_view(text, static_cast<std::size_t>(sqlite3_column_bytes(stmt, i))));
    }
    case SQLITE_BLOB: {
      const auto* blob = static_cast<const char*>(sqlite3_column_blob(stmt, i));
      return Value::Bytes(
          std::string_view(blob, static_cast<std::size_t>(sqlite3_column_bytes(stmt, i))));
    }
    default:
      return Value();
  }
}

// Resets a statement (keeping it cached) when Execute leaves, whatever the path.
class StatementReset {
 public:
  explicit StatementReset(sqlite3_stmt* stmt) : stmt_(stmt) {}
  ~StatementReset() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }
  StatementReset(const StatementReset&) = delete;
  StatementReset& operator=(const StatementReset&) = delete;

 private:
  sqlite3_stmt* stmt_;
};

}  // namespace

Result<std::unique_ptr<SqliteDatabase>> SqliteDatabase::Open(const SqliteOptions& options) {
  int flags = SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_URI;
  if (options.read_only) {
    flags |= SQLITE_OPEN_READONLY;
  } else {
    flags |= SQLITE_OPEN_READWRITE | (options.create ? SQLITE_OPEN_CREATE : 0);
  }
  sqlite3* raw = nullptr;
  int rc = sqlite3_open_v2(options.path.c_str(), &raw, flags, nullptr);
  std::unique_ptr<SqliteDatabase> db(new SqliteDatabase(
      raw, options.statement_cache_size == 0 ? 1 : options.statement_cache_size));
  std::string where = "sqlite: open \"" + options.path + "\": ";
  if (rc != SQLITE_OK) {
    std::string message = raw != nullptr ? sqlite3_errmsg(raw) : sqlite3_errstr(rc);
    return MakeError(CodeFor(rc), where + message);
  }
  sqlite3_extended_result_codes(raw, 1);
  sqlite3_busy_timeout(raw, static_cast<int>(options.busy_timeout.count()));
  std::string pragmas = "PRAGMA foreign_keys = ON;";
  if (options.wal && !options.read_only && !IsMemoryPath(options.path)) {
    pragmas += "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;";
  }
  if (Status s = db->ExecuteScript(pragmas); !s) {
    return MakeError(s.error().code, where + s.error().message);
  }
  return db;
}

SqliteDatabase::~SqliteDatabase() {
  for (CachedStatement& entry : lru_) sqlite3_finalize(entry.stmt);
  sqlite3_close_v2(db_);  // v2: fine with statements a failed Open never prepared
}

Error SqliteDatabase::LastError(std::string_view prefix) const {
  int rc = sqlite3_extended_errcode(db_);
  return Error{CodeFor(rc), "sqlite: " + std::string(prefix) + sqlite3_errmsg(db_)};
}

Result<sqlite3_stmt*> SqliteDatabase::Prepare(std::string_view sql) {
  if (auto it = cache_.find(sql); it != cache_.end()) {
    lru_.splice(lru_.begin(), lru_, it->second);
    return it->second->stmt;
  }
  sqlite3_stmt* stmt = nullptr;
  const char* tail = nullptr;
  int rc = sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()),
                              SQLITE_PREPARE_PERSISTENT, &stmt, &tail);
  if (rc != SQLITE_OK) return tl::unexpected(LastError());
  if (stmt == nullptr) return MakeError(ErrorCode::kInvalidArgument, "sqlite: empty statement");
  ++prepare_count_;

  // Only whitespace, ';' and comments may follow: prepare the rest to find out.
  std::string_view rest = sql.substr(static_cast<std::size_t>(tail - sql.data()));
  while (!rest.empty()) {
    sqlite3_stmt* extra = nullptr;
    const char* extra_tail = nullptr;
    int extra_rc =
        sqlite3_prepare_v2(db_, rest.data(), static_cast<int>(rest.size()), &extra, &extra_tail);
    sqlite3_finalize(extra);
    if (extra_rc != SQLITE_OK || extra != nullptr) {
      sqlite3_finalize(stmt);
      return MakeError(ErrorCode::kInvalidArgument,
                       "sqlite: Execute runs one statement, found more after \"" +
                           std::string(sql.substr(0, sql.size() - rest.size())) +
                           "\"; use ExecuteScript for several");
    }
    std::size_t used = static_cast<std::size_t>(extra_tail - rest.data());
    if (used == 0) break;
    rest.remove_prefix(used);
  }

  lru_.push_front(CachedStatement{std::string(sql), stmt});
  cache_.emplace(lru_.front().sql, lru_.begin());
  while (cache_.size() > cache_size_) {
    cache_.erase(lru_.back().sql);
    sqlite3_finalize(lru_.back().stmt);
    lru_.pop_back();
  }
  return stmt;
}

namespace {

Status BindOne(sqlite3* db, sqlite3_stmt* stmt, int index, const Value& v, std::string_view name) {
  int rc = SQLITE_OK;
  switch (v.kind()) {
    case ValueKind::kNull:
      rc = sqlite3_bind_null(stmt, index);
      break;
    case ValueKind::kBool:
      rc = sqlite3_bind_int64(stmt, index, v.AsBool() ? 1 : 0);
      break;
    case ValueKind::kInt:
      rc = sqlite3_bind_int64(stmt, index, v.AsInt());
      break;
    case ValueKind::kDouble:
      rc = sqlite3_bind_double(stmt, index, v.AsDouble());
      break;
    case ValueKind::kString: {
      // SQLITE_STATIC: `args` outlive the statement's run; bindings are cleared after it.
      std::string_view s = v.AsString();
      rc = sqlite3_bind_text64(stmt, index, s.data() != nullptr ? s.data() : "", s.size(),
                               SQLITE_STATIC, SQLITE_UTF8);
      break;
    }
    case ValueKind::kBytes: {
      std::string_view b = v.AsBytes();
      rc = b.empty() ? sqlite3_bind_zeroblob(stmt, index, 0)
                     : sqlite3_bind_blob64(stmt, index, b.data(), b.size(), SQLITE_STATIC);
      break;
    }
    case ValueKind::kArray:
    case ValueKind::kMap:
      return MakeError(ErrorCode::kInvalidArgument,
                       "sqlite: parameter " + std::string(name) + ": cannot bind " +
                           std::string(ValueKindName(v.kind())) + "; encode it as JSON text");
  }
  if (rc != SQLITE_OK) {
    return MakeError(CodeFor(rc),
                     "sqlite: parameter " + std::string(name) + ": " + sqlite3_errmsg(db));
  }
  return {};
}

}  // namespace

Status SqliteDatabase::Bind(sqlite3_stmt* stmt, std::span<const Value> args) {
  const int count = sqlite3_bind_parameter_count(stmt);
  if (args.size() == 1 && args[0].IsMap()) {
    std::span<const MapEntry> entries = args[0].AsMap();
    std::vector<bool> used(entries.size(), false);
    for (int i = 1; i <= count; ++i) {
      const char* full = sqlite3_bind_parameter_name(stmt, i);
      if (full == nullptr) {
        return MakeError(ErrorCode::kInvalidArgument,
                         "sqlite: parameter ?" + std::to_string(i) +
                             " is positional; pass the arguments as an array, not a map");
      }
      std::string_view name(full);
      std::string_view bare = name.substr(1);
      std::size_t found = entries.size();
      for (std::size_t e = 0; e < entries.size(); ++e) {
        if (entries[e].key == name || entries[e].key == bare) {
          found = e;
          break;
        }
      }
      if (found == entries.size()) {
        return MakeError(ErrorCode::kInvalidArgument,
                         "sqlite: missing named parameter " + std::string(name));
      }
      used[found] = true;
      if (Status s = BindOne(db_, stmt, i, entries[found].value, name); !s) return s;
    }
    for (std::size_t e = 0; e < entries.size(); ++e) {
      if (!used[e]) {
        return MakeError(ErrorCode::kInvalidArgument,
                         "sqlite: unknown named parameter \"" + entries[e].key + "\"");
      }
    }
    return {};
  }
  if (args.size() != static_cast<std::size_t>(count)) {
    return MakeError(ErrorCode::kInvalidArgument, "sqlite: statement takes " +
                                                      std::to_string(count) + " parameters, got " +
                                                      std::to_string(args.size()));
  }
  for (int i = 1; i <= count; ++i) {
    const char* full = sqlite3_bind_parameter_name(stmt, i);
    std::string name = full != nullptr ? std::string(full) : "?" + std::to_string(i);
    if (Status s = BindOne(db_, stmt, i, args[static_cast<std::size_t>(i - 1)], name); !s) {
      return s;
    }
  }
  return {};
}

Result<SqlResult> SqliteDatabase::Execute(std::string_view sql, std::span<const Value> args) {
  Result<sqlite3_stmt*> prepared = Prepare(sql);
  if (!prepared) return tl::unexpected(std::move(prepared.error()));
  sqlite3_stmt* stmt = *prepared;
  StatementReset reset(stmt);
  if (Status s = Bind(stmt, args); !s) return tl::unexpected(std::move(s.error()));

  const std::int64_t total_before = sqlite3_total_changes64(db_);
  std::vector<Value> rows;
  std::vector<std::string> names;  // taken after the first step: a re-prepare may rename
  while (true) {
    int rc = sqlite3_step(stmt);
    if (rc == SQLITE_DONE) break;
    if (rc != SQLITE_ROW) return tl::unexpected(LastError());
    const int columns = sqlite3_column_count(stmt);
    if (names.empty()) {
      names.reserve(static_cast<std::size_t>(columns));
      for (int c = 0; c < columns; ++c) names.emplace_back(sqlite3_column_name(stmt, c));
    }
    std::vector<MapEntry> row;
    row.reserve(static_cast<std::size_t>(columns));
    for (int c = 0; c < columns; ++c) {
      row.push_back({names[static_cast<std::size_t>(c)], ColumnValue(stmt, c)});
    }
    rows.push_back(Value::Map(std::move(row)));
  }
  SqlResult result;
  result.rows = Value::Array(std::move(rows));
  // sqlite3_changes64 keeps the last INSERT/UPDATE/DELETE's count; report it only when this
  // statement changed something.
  result.changes = sqlite3_total_changes64(db_) != total_before ? sqlite3_changes64(db_) : 0;
  result.last_insert_id = sqlite3_last_insert_rowid(db_);
  return result;
}

Result<SqlResult> SqliteDatabase::Execute(std::string_view sql, const Value& args) {
  if (args.IsNull()) return Execute(sql, std::span<const Value>());
  if (args.IsArray()) return Execute(sql, args.AsArray());
  return Execute(sql, std::span<const Value>(&args, 1));
}

Status SqliteDatabase::ExecuteScript(std::string_view sql) {
  std::string text(sql);  // sqlite3_exec wants a NUL-terminated string
  char* message = nullptr;
  int rc = sqlite3_exec(db_, text.c_str(), nullptr, nullptr, &message);
  if (rc != SQLITE_OK) {
    std::string what = message != nullptr ? message : sqlite3_errstr(rc);
    sqlite3_free(message);
    return MakeError(CodeFor(rc), "sqlite: " + what);
  }
  return {};
}

// ---- SqlitePool

SqlitePool::SqlitePool(SqlitePoolOptions options)
    : options_(std::move(options)),
      capacity_(IsMemoryPath(options_.connection.path) || options_.size == 0 ? 1 : options_.size) {}

std::unique_ptr<SqlitePool> SqlitePool::Create(SqlitePoolOptions options) {
  return std::unique_ptr<SqlitePool>(new SqlitePool(std::move(options)));
}

Result<std::unique_ptr<SqlitePool>> SqlitePool::Open(const SqliteOptions& options,
                                                     std::size_t size) {
  assert(size >= 1 && "SqlitePool needs at least one connection");
  SqlitePoolOptions pool_options;
  pool_options.connection = options;
  pool_options.size = size;
  std::unique_ptr<SqlitePool> pool = Create(std::move(pool_options));
  if (Status s = pool->Prepare(); !s) return tl::unexpected(std::move(s.error()));
  std::lock_guard<std::mutex> lock(pool->mu_);
  while (pool->connections_.size() < pool->capacity_) {
    Result<std::unique_ptr<SqliteDatabase>> db = SqliteDatabase::Open(options);
    if (!db) return tl::unexpected(std::move(db.error()));
    pool->free_.push_back(db->get());
    pool->connections_.push_back(std::move(*db));
  }
  return pool;
}

SqlitePool::~SqlitePool() {
  std::lock_guard<std::mutex> lock(mu_);
  assert(free_.size() == connections_.size() && opening_ == 0 &&
         "a SqlitePool::Lease outlived its pool");
}

SqlitePool::Lease::~Lease() {
  if (pool_ != nullptr) pool_->Release(db_);
}

Result<std::unique_ptr<SqliteDatabase>> SqlitePool::OpenConnection() {
  Result<std::unique_ptr<SqliteDatabase>> db = SqliteDatabase::Open(options_.connection);
  if (!db && !options_.name.empty()) db.error().message = options_.name + ": " + db.error().message;
  return db;
}

Status SqlitePool::Migrate(SqliteDatabase& db) {
  const std::vector<std::string>& migrations = options_.migrations;
  auto user_version = [&db]() -> Result<std::int64_t> {
    Result<SqlResult> r = db.Execute("PRAGMA user_version");
    if (!r) return tl::unexpected(std::move(r.error()));
    return r->rows.At(0)["user_version"].AsInt();
  };
  const std::string who =
      options_.name.empty() ? "sqlite \"" + options_.connection.path + "\"" : options_.name;
  auto failed = [&](std::size_t i, const Error& error) {
    return MakeError(error.code,
                     who + ": migrations[" + std::to_string(i) + "] failed: " + error.message);
  };
  if (migrations.empty()) return {};
  // Most starts find the database up to date: check without taking the write lock.
  Result<std::int64_t> version = user_version();
  if (!version) {
    return MakeError(version.error().code,
                     who + ": reading user_version failed: " + version.error().message);
  }
  for (std::size_t i = static_cast<std::size_t>(std::max<std::int64_t>(*version, 0));
       i < migrations.size(); ++i) {
    const auto target = static_cast<std::int64_t>(i + 1);
    // IMMEDIATE takes the write lock now, so the re-read below cannot race another
    // process applying the same migration.
    if (Status s = db.ExecuteScript("BEGIN IMMEDIATE"); !s) return failed(i, s.error());
    Status applied = [&]() -> Status {
      Result<std::int64_t> now = user_version();
      if (!now) return tl::unexpected(std::move(now.error()));
      if (*now >= target) return {};  // someone else applied it meanwhile
      if (Status s = db.ExecuteScript(migrations[i]); !s) return s;
      return db.ExecuteScript("PRAGMA user_version = " + std::to_string(target));
    }();
    // On failure the ROLLBACK's own result is ignored: the migration's error is the one to
    // report, and Prepare then closes this connection, which rolls back in any case.
    if (!applied) {
      (void)db.ExecuteScript("ROLLBACK");
      return failed(i, applied.error());
    }
    if (Status s = db.ExecuteScript("COMMIT"); !s) {
      (void)db.ExecuteScript("ROLLBACK");
      return failed(i, s.error());
    }
  }
  return {};
}

Status SqlitePool::Prepare() {
  if (prepared_.load(std::memory_order_acquire)) return prepare_status_;
  std::lock_guard<std::mutex> prepare_lock(prepare_mu_);
  if (prepared_.load(std::memory_order_relaxed)) return prepare_status_;
  Result<std::unique_ptr<SqliteDatabase>> db = OpenConnection();
  if (!db) {
    prepare_status_ = tl::unexpected(std::move(db.error()));
  } else {
    prepare_status_ = Migrate(**db);
    if (prepare_status_) {
      std::lock_guard<std::mutex> lock(mu_);
      free_.push_back(db->get());
      connections_.push_back(std::move(*db));
    }
  }
  prepared_.store(true, std::memory_order_release);
  return prepare_status_;
}

Result<SqlitePool::Lease> SqlitePool::AcquireUntil(
    std::optional<std::chrono::steady_clock::time_point> deadline) {
  if (Status s = Prepare(); !s) return tl::unexpected(s.error());
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    if (!free_.empty()) {
      SqliteDatabase* db = free_.back();
      free_.pop_back();
      return Lease(this, db);
    }
    if (connections_.size() + opening_ < capacity_) {
      // Open outside mu_: opening may wait on the database's locks.
      ++opening_;
      lock.unlock();
      Result<std::unique_ptr<SqliteDatabase>> db = OpenConnection();
      lock.lock();
      --opening_;
      if (!db) {
        freed_.notify_one();  // the slot is free again for a waiter to try
        return tl::unexpected(std::move(db.error()));
      }
      SqliteDatabase* raw = db->get();
      connections_.push_back(std::move(*db));
      return Lease(this, raw);
    }
    if (!deadline) {
      freed_.wait(lock);
    } else if (freed_.wait_until(lock, *deadline) == std::cv_status::timeout && free_.empty() &&
               connections_.size() + opening_ >= capacity_) {
      return MakeError(ErrorCode::kDeadlineExceeded,
                       "sqlite: \"" + options_.connection.path + "\": no free connection of " +
                           std::to_string(capacity_) + " within the timeout");
    }
  }
}

Result<SqlitePool::Lease> SqlitePool::Acquire() { return AcquireUntil(std::nullopt); }

Result<SqlitePool::Lease> SqlitePool::Acquire(std::chrono::nanoseconds timeout) {
  return AcquireUntil(std::chrono::steady_clock::now() + timeout);
}

Result<SqlResult> SqlitePool::Execute(std::string_view sql, std::span<const Value> args) {
  Result<Lease> lease = Acquire();
  if (!lease) return tl::unexpected(std::move(lease.error()));
  return (*lease)->Execute(sql, args);
}

std::size_t SqlitePool::available() const {
  std::lock_guard<std::mutex> lock(mu_);
  return free_.size() + (capacity_ - connections_.size() - opening_);
}

void SqlitePool::Release(SqliteDatabase* db) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    free_.push_back(db);
  }
  freed_.notify_one();
}

}  // namespace epos
