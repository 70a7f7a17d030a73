#include "epos/sql/sqlite.h"

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

namespace epos {
namespace {

using namespace std::chrono_literals;

std::unique_ptr<SqliteDatabase> OpenMemory(std::size_t cache_size = 64) {
  SqliteOptions options;
  options.statement_cache_size = cache_size;
  Result<std::unique_ptr<SqliteDatabase>> db = SqliteDatabase::Open(options);
  EXPECT_TRUE(db) << (db ? "" : db.error().message);
  return db ? std::move(*db) : nullptr;
}

// A database file in the temp directory, removed (with its -wal and -shm) afterwards.
class TempDbFile {
 public:
  explicit TempDbFile(const std::string& tag)
      : path_((std::filesystem::temp_directory_path() /
               ("epos_sqlite_" + tag + "_" + std::to_string(::getpid()) + ".db"))
                  .string()) {
    Remove();
  }
  ~TempDbFile() { Remove(); }
  const std::string& path() const { return path_; }

 private:
  void Remove() {
    std::error_code ec;
    for (const char* suffix : {"", "-wal", "-shm", "-journal"}) {
      std::filesystem::remove(path_ + suffix, ec);
    }
  }
  std::string path_;
};

SqlResult MustExecute(SqliteDatabase& db, std::string_view sql, std::vector<Value> args = {}) {
  Result<SqlResult> r = db.Execute(sql, args);
  EXPECT_TRUE(r) << sql << ": " << (r ? "" : r.error().message);
  return r ? std::move(*r) : SqlResult{};
}

std::string ErrorOf(SqliteDatabase& db, std::string_view sql, std::vector<Value> args = {},
                    ErrorCode code = ErrorCode::kInvalidArgument) {
  Result<SqlResult> r = db.Execute(sql, args);
  if (r) return "(succeeded)";
  EXPECT_EQ(r.error().code, code) << r.error().message;
  return r.error().message;
}

TEST(SqliteTest, RoundTripsEveryType) {
  auto db = OpenMemory();
  ASSERT_TRUE(db);
  MustExecute(*db, "CREATE TABLE t (i INTEGER, r REAL, s TEXT, b BLOB, n)");
  std::string with_nul("a\0b", 3);
  std::string binary("\x00\xff\x10", 3);
  SqlResult ins = MustExecute(
      *db, "INSERT INTO t VALUES (?, ?, ?, ?, ?)",
      {Value(9223372036854775807LL), Value(2.5), Value("héllo"), Value::Bytes(binary), Value()});
  EXPECT_EQ(ins.changes, 1);
  EXPECT_EQ(ins.last_insert_id, 1);
  EXPECT_TRUE(ins.rows.IsArray());
  EXPECT_EQ(ins.rows.size(), 0u);
  MustExecute(*db, "INSERT INTO t VALUES (?, ?, ?, ?, ?)",
              {Value(true), Value(-0.125), Value(""), Value::Bytes(""), Value(with_nul)});

  SqlResult sel = MustExecute(*db, "SELECT i, r, s, b, n FROM t ORDER BY rowid");
  EXPECT_EQ(sel.changes, 0);
  ASSERT_EQ(sel.rows.size(), 2u);
  EXPECT_EQ(sel.rows.At(0), Value::Map({{"i", Value(9223372036854775807LL)},
                                        {"r", Value(2.5)},
                                        {"s", Value("héllo")},
                                        {"b", Value::Bytes(binary)},
                                        {"n", Value()}}));
  EXPECT_EQ(sel.rows.At(1), Value::Map({{"i", Value(1)},
                                        {"r", Value(-0.125)},
                                        {"s", Value("")},
                                        {"b", Value::Bytes("")},
                                        {"n", Value(with_nul)}}));
  EXPECT_TRUE(sel.rows.At(0)["b"].IsBytes());
  EXPECT_TRUE(sel.rows.At(1)["b"].IsBytes());
  EXPECT_TRUE(sel.rows.At(1)["s"].IsString());

  // Column names follow aliases and expressions.
  SqlResult expr = MustExecute(*db, "SELECT count(*), sum(i > 0) AS positive FROM t");
  EXPECT_EQ(expr.rows.At(0), Value::Map({{"count(*)", Value(2)}, {"positive", Value(2)}}));
}

TEST(SqliteTest, BindsByPositionIncludingNumbered) {
  auto db = OpenMemory();
  ASSERT_TRUE(db);
  SqlResult r = MustExecute(*db, "SELECT ?2 AS b, ?1 AS a, ?2 AS b2", {Value(1), Value("two")});
  EXPECT_EQ(r.rows.At(0), Value::Map({{"b", "two"}, {"a", 1}, {"b2", "two"}}));
  // Named parameters can be bound by position too.
  r = MustExecute(*db, "SELECT :x + :y AS s", {Value(2), Value(3)});
  EXPECT_EQ(r.rows.At(0), Value::Map({{"s", 5}}));
}

TEST(SqliteTest, BindsByName) {
  auto db = OpenMemory();
  ASSERT_TRUE(db);
  MustExecute(*db, "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT, age INTEGER)");
  Value args = Value::Map({{"name", "ada"}, {"$age", 36}, {"id", 7}});
  Result<SqlResult> ins = db->Execute("INSERT INTO users VALUES (:id, @name, $age)", args);
  ASSERT_TRUE(ins) << ins.error().message;
  EXPECT_EQ(ins->last_insert_id, 7);
  // One name used twice binds both.
  Result<SqlResult> sel =
      db->Execute("SELECT name FROM users WHERE id = :id OR age = :id", Value::Map({{"id", 7}}));
  ASSERT_TRUE(sel) << sel.error().message;
  EXPECT_EQ(sel->rows, Value::Array({Value::Map({{"name", "ada"}})}));

  EXPECT_EQ(ErrorOf(*db, "SELECT :a, :b", {Value::Map({{"a", 1}})}),
            "sqlite: missing named parameter :b");
  EXPECT_EQ(ErrorOf(*db, "SELECT :a", {Value::Map({{"a", 1}, {"typo", 2}})}),
            "sqlite: unknown named parameter \"typo\"");
  EXPECT_EQ(ErrorOf(*db, "SELECT ?", {Value::Map({{"a", 1}})}),
            "sqlite: parameter ?1 is positional; pass the arguments as an array, not a map");
}

TEST(SqliteTest, ExecuteTakesAValueArgument) {
  auto db = OpenMemory();
  ASSERT_TRUE(db);
  Result<SqlResult> r = db->Execute("SELECT 1 AS one", Value());
  ASSERT_TRUE(r);
  EXPECT_EQ(r->rows, Value::Array({Value::Map({{"one", 1}})}));
  r = db->Execute("SELECT ? AS a, ? AS b", Value::Array({1, "x"}));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->rows, Value::Array({Value::Map({{"a", 1}, {"b", "x"}})}));
  r = db->Execute("SELECT :v AS v", Value::Map({{"v", 1.5}}));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->rows, Value::Array({Value::Map({{"v", 1.5}})}));
  r = db->Execute("SELECT ? AS v", Value("scalar"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->rows, Value::Array({Value::Map({{"v", "scalar"}})}));
}

TEST(SqliteTest, ReusesCachedStatements) {
  auto db = OpenMemory();
  ASSERT_TRUE(db);
  MustExecute(*db, "CREATE TABLE t (v INTEGER)");
  EXPECT_EQ(db->prepare_count(), 1u);
  for (int i = 0; i < 10; ++i) MustExecute(*db, "INSERT INTO t VALUES (?)", {Value(i)});
  EXPECT_EQ(db->prepare_count(), 2u);
  SqlResult r = MustExecute(*db, "SELECT sum(v) AS s FROM t");
  EXPECT_EQ(r.rows.At(0)["s"], Value(45));
  EXPECT_EQ(db->prepare_count(), 3u);
  EXPECT_EQ(db->cached_statements(), 3u);
  // A failed bind leaves the cached statement usable.
  ErrorOf(*db, "INSERT INTO t VALUES (?)", {});
  MustExecute(*db, "INSERT INTO t VALUES (?)", {Value(100)});
  EXPECT_EQ(db->prepare_count(), 3u);
  // A schema change behind a cached statement is handled (SQLite re-prepares it).
  MustExecute(*db, "ALTER TABLE t ADD COLUMN w TEXT DEFAULT 'x'");
  r = MustExecute(*db, "SELECT * FROM t WHERE v = ?", {Value(100)});
  EXPECT_EQ(r.rows.At(0), Value::Map({{"v", 100}, {"w", "x"}}));
}

TEST(SqliteTest, StatementCacheIsBoundedLru) {
  auto db = OpenMemory(2);
  ASSERT_TRUE(db);
  MustExecute(*db, "SELECT 1");
  MustExecute(*db, "SELECT 2");
  MustExecute(*db, "SELECT 1");  // hit; "SELECT 2" is now least recent
  EXPECT_EQ(db->prepare_count(), 2u);
  MustExecute(*db, "SELECT 3");  // evicts "SELECT 2"
  EXPECT_EQ(db->cached_statements(), 2u);
  MustExecute(*db, "SELECT 1");  // still cached
  EXPECT_EQ(db->prepare_count(), 3u);
  MustExecute(*db, "SELECT 2");  // was evicted
  EXPECT_EQ(db->prepare_count(), 4u);
  EXPECT_EQ(db->cached_statements(), 2u);
}

TEST(SqliteTest, ReportsErrorsWithSqliteMessages) {
  auto db = OpenMemory();
  ASSERT_TRUE(db);
  EXPECT_EQ(ErrorOf(*db, "SELECT * FROM orders"), "sqlite: no such table: orders");
  EXPECT_EQ(ErrorOf(*db, "SELEC 1"), "sqlite: near \"SELEC\": syntax error");
  EXPECT_EQ(ErrorOf(*db, ""), "sqlite: empty statement");
  EXPECT_EQ(ErrorOf(*db, "SELECT ?, ?", {Value(1)}), "sqlite: statement takes 2 parameters, got 1");
  EXPECT_EQ(ErrorOf(*db, "SELECT 1", {Value(1)}), "sqlite: statement takes 0 parameters, got 1");
  EXPECT_EQ(ErrorOf(*db, "SELECT ?", {Value::Array({1})}),
            "sqlite: parameter ?1: cannot bind array; encode it as JSON text");
  EXPECT_EQ(ErrorOf(*db, "SELECT :m, :n", {Value(1), Value::Map({{"a", 1}})}),
            "sqlite: parameter :n: cannot bind map; encode it as JSON text");
  EXPECT_EQ(ErrorOf(*db, "SELECT 1; SELECT 2"),
            "sqlite: Execute runs one statement, found more after \"SELECT 1;\"; use "
            "ExecuteScript for several");
  // Trailing semicolons, whitespace and comments are fine.
  MustExecute(*db, "SELECT 1; ;  -- done\n /* really */ ");

  MustExecute(*db, "CREATE TABLE p (id INTEGER PRIMARY KEY, email TEXT UNIQUE NOT NULL)");
  MustExecute(*db, "CREATE TABLE c (pid INTEGER REFERENCES p(id))");
  MustExecute(*db, "INSERT INTO p (email) VALUES (?)", {Value("a@x")});
  EXPECT_EQ(ErrorOf(*db, "INSERT INTO p (email) VALUES (?)", {Value("a@x")}),
            "sqlite: UNIQUE constraint failed: p.email");
  EXPECT_EQ(ErrorOf(*db, "INSERT INTO p (email) VALUES (NULL)"),
            "sqlite: NOT NULL constraint failed: p.email");
  // Foreign keys are on.
  EXPECT_EQ(ErrorOf(*db, "INSERT INTO c VALUES (?)", {Value(99)}),
            "sqlite: FOREIGN KEY constraint failed");
  MustExecute(*db, "INSERT INTO c VALUES (?)", {Value(1)});
}

TEST(SqliteTest, ReportsChangesAndLastInsertId) {
  auto db = OpenMemory();
  ASSERT_TRUE(db);
  SqlResult ddl = MustExecute(*db, "CREATE TABLE t (id INTEGER PRIMARY KEY, v INTEGER)");
  EXPECT_EQ(ddl.changes, 0);
  EXPECT_EQ(MustExecute(*db, "INSERT INTO t (v) VALUES (1), (2), (3)").last_insert_id, 3);
  SqlResult upd = MustExecute(*db, "UPDATE t SET v = v * 10 WHERE v >= ?", {Value(2)});
  EXPECT_EQ(upd.changes, 2);
  EXPECT_EQ(MustExecute(*db, "SELECT v FROM t").changes, 0);  // not the UPDATE's count
  SqlResult ret = MustExecute(*db, "DELETE FROM t WHERE v > 5 RETURNING id");
  EXPECT_EQ(ret.changes, 2);
  EXPECT_EQ(ret.rows, Value::Array({Value::Map({{"id", 2}}), Value::Map({{"id", 3}})}));
}

TEST(SqliteTest, ExecuteScriptRunsASchema) {
  auto db = OpenMemory();
  ASSERT_TRUE(db);
  Status s = db->ExecuteScript(R"sql(
    CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT NOT NULL);
    CREATE TABLE orders (
      id INTEGER PRIMARY KEY,
      customer_id INTEGER NOT NULL REFERENCES customers(id),
      total REAL NOT NULL
    );
    CREATE INDEX orders_by_customer ON orders(customer_id);
    -- seed data
    INSERT INTO customers (name) VALUES ('ada'), ('grace');
    INSERT INTO orders (customer_id, total) VALUES (1, 9.5), (1, 0.5), (2, 3);
  )sql");
  ASSERT_TRUE(s) << s.error().message;
  SqlResult r = MustExecute(*db,
                            "SELECT c.name, sum(o.total) AS total FROM customers c JOIN orders o "
                            "ON o.customer_id = c.id GROUP BY c.id ORDER BY c.id");
  EXPECT_EQ(r.rows, Value::Array({Value::Map({{"name", "ada"}, {"total", 10.0}}),
                                  Value::Map({{"name", "grace"}, {"total", 3.0}})}));

  Status bad = db->ExecuteScript("CREATE TABLE x (a); INSERT INTO nope VALUES (1);");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(bad.error().message, "sqlite: no such table: nope");
  // Statements before the failure stay applied.
  MustExecute(*db, "SELECT * FROM x");
  EXPECT_TRUE(db->ExecuteScript(""));
}

TEST(SqliteTest, OpenErrorsNameThePath) {
  SqliteOptions options;
  options.path = "/nonexistent-dir-epos/x.db";
  Result<std::unique_ptr<SqliteDatabase>> db = SqliteDatabase::Open(options);
  ASSERT_FALSE(db);
  EXPECT_EQ(db.error().code, ErrorCode::kUnavailable);
  EXPECT_EQ(db.error().message,
            "sqlite: open \"/nonexistent-dir-epos/x.db\": unable to open database file");

  TempDbFile file("missing");
  options.path = file.path();
  options.create = false;
  EXPECT_FALSE(SqliteDatabase::Open(options));
}

TEST(SqliteTest, FilesUseWalAndReadOnlyRejectsWrites) {
  TempDbFile file("wal");
  SqliteOptions options;
  options.path = file.path();
  {
    auto db = SqliteDatabase::Open(options);
    ASSERT_TRUE(db) << db.error().message;
    SqlResult r = MustExecute(**db, "PRAGMA journal_mode");
    EXPECT_EQ(r.rows.At(0)["journal_mode"], Value("wal"));
    EXPECT_EQ(MustExecute(**db, "PRAGMA foreign_keys").rows.At(0)["foreign_keys"], Value(1));
    ASSERT_TRUE((*db)->ExecuteScript("CREATE TABLE t (v); INSERT INTO t VALUES (1);"));
  }
  options.read_only = true;
  auto ro = SqliteDatabase::Open(options);
  ASSERT_TRUE(ro) << ro.error().message;
  EXPECT_EQ(MustExecute(**ro, "SELECT v FROM t").rows.size(), 1u);
  EXPECT_EQ(ErrorOf(**ro, "INSERT INTO t VALUES (2)"),
            "sqlite: attempt to write a readonly database");
}

// Writers on a WAL file through a pool of 4: every row and every increment lands.
void RunPoolWriters(int threads) {
  TempDbFile file("pool" + std::to_string(threads));
  SqliteOptions options;
  options.path = file.path();
  auto pool = SqlitePool::Open(options, 4);
  ASSERT_TRUE(pool) << pool.error().message;
  EXPECT_EQ((*pool)->size(), 4u);
  {
    SqlitePool::Lease lease = *(*pool)->Acquire();
    ASSERT_TRUE(lease->ExecuteScript(
        "CREATE TABLE events (thread INTEGER, seq INTEGER, PRIMARY KEY (thread, seq));"
        "CREATE TABLE counter (n INTEGER); INSERT INTO counter VALUES (0);"));
    EXPECT_EQ((*pool)->available(), 3u);
  }
  constexpr int kPerThread = 100;
  std::atomic<int> failures{0};
  std::atomic<int> in_use{0};
  std::atomic<int> max_in_use{0};
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        SqlitePool::Lease lease = *(*pool)->Acquire();
        int now = in_use.fetch_add(1) + 1;
        int seen = max_in_use.load();
        while (now > seen && !max_in_use.compare_exchange_weak(seen, now)) {
        }
        std::vector<Value> args = {Value(t), Value(i)};
        if (!lease->Execute("INSERT INTO events VALUES (?, ?)", args)) failures.fetch_add(1);
        if (!lease->Execute("UPDATE counter SET n = n + 1")) failures.fetch_add(1);
        if (!lease->Execute("SELECT count(*) AS c FROM events WHERE thread = ?",
                            std::vector<Value>{Value(t)})) {
          failures.fetch_add(1);
        }
        in_use.fetch_sub(1);
      }
    });
  }
  for (std::thread& w : workers) w.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_LE(max_in_use.load(), 4);
  EXPECT_EQ((*pool)->available(), 4u);

  Result<SqlResult> count = (*pool)->Execute("SELECT count(*) AS c, sum(seq) AS s FROM events");
  ASSERT_TRUE(count) << count.error().message;
  EXPECT_EQ(count->rows.At(0)["c"], Value(threads * kPerThread));
  EXPECT_EQ(count->rows.At(0)["s"], Value(threads * (kPerThread * (kPerThread - 1) / 2)));
  Result<SqlResult> n = (*pool)->Execute("SELECT n FROM counter");
  ASSERT_TRUE(n);
  EXPECT_EQ(n->rows.At(0)["n"], Value(threads * kPerThread));
  // Each connection prepared each statement at most once.
  for (std::size_t i = 0; i < 4; ++i) {
    SqlitePool::Lease lease = *(*pool)->Acquire();
    EXPECT_LE(lease->prepare_count(), 6u);
  }
}

TEST(SqlitePoolTest, ConcurrentWriters1) { RunPoolWriters(1); }
TEST(SqlitePoolTest, ConcurrentWriters2) { RunPoolWriters(2); }
TEST(SqlitePoolTest, ConcurrentWriters8) { RunPoolWriters(8); }

TEST(SqlitePoolTest, AcquireBlocksUntilReleaseOrTimesOut) {
  SqliteOptions options;  // :memory: → one connection
  auto pool = SqlitePool::Open(options, 4);
  ASSERT_TRUE(pool) << pool.error().message;
  EXPECT_EQ((*pool)->size(), 1u);
  std::atomic<bool> acquired{false};
  std::thread waiter;
  {
    SqlitePool::Lease held = *(*pool)->Acquire();
    EXPECT_EQ((*pool)->available(), 0u);
    Result<SqlitePool::Lease> timed = (*pool)->Acquire(10ms);
    ASSERT_FALSE(timed);
    EXPECT_EQ(timed.error().code, ErrorCode::kDeadlineExceeded);
    EXPECT_EQ(timed.error().message,
              "sqlite: \":memory:\": no free connection of 1 within the timeout");
    waiter = std::thread([&] {
      SqlitePool::Lease lease = *(*pool)->Acquire();
      acquired = true;
    });
    std::this_thread::sleep_for(20ms);
    EXPECT_FALSE(acquired.load());
  }
  waiter.join();
  EXPECT_TRUE(acquired.load());
  Result<SqlitePool::Lease> again = (*pool)->Acquire(1s);
  ASSERT_TRUE(again);
  EXPECT_EQ((*again)->Execute("SELECT 1 AS x")->rows.At(0)["x"], Value(1));
}

}  // namespace
}  // namespace epos
