// SqlitePool's lazy opening and its schema migrations (PRAGMA user_version): applied in
// order, exactly once per database, even when first uses race; failures rolled back and
// sticky; a database past the list left alone.
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "epos/sql/sqlite.h"
#include "support/temp_dir.h"

namespace epos {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

// A database file in a fresh temp directory, removed with it afterwards.
class TempDb {
 public:
  explicit TempDb(const std::string& tag)
      : dir_("migrate-" + tag), path_((dir_.path() / "app.db").string()) {}
  const std::string& path() const { return path_; }

 private:
  testing_util::TempDir dir_;
  std::string path_;
};

std::unique_ptr<SqlitePool> MakePool(const std::string& path, std::vector<std::string> migrations,
                                     std::size_t size = 4) {
  SqlitePoolOptions options;
  options.connection.path = path;
  options.size = size;
  options.migrations = std::move(migrations);
  options.name = "sql.pool \"db\"";
  return SqlitePool::Create(std::move(options));
}

Value Query(SqlitePool& pool, std::string_view sql) {
  Result<SqlResult> r = pool.Execute(sql);
  EXPECT_TRUE(r) << sql << ": " << (r ? "" : r.error().message);
  return r ? r->rows : Value();
}

std::int64_t UserVersion(SqlitePool& pool) {
  return Query(pool, "PRAGMA user_version").At(0)["user_version"].AsInt();
}

const std::vector<std::string> kSchema = {
    // Several statements in one script; not idempotent, so a second run would fail.
    "CREATE TABLE products (sku TEXT PRIMARY KEY, price_cents INTEGER NOT NULL);"
    "INSERT INTO products VALUES ('A1', 250), ('B2', 1000);",
    "ALTER TABLE products ADD COLUMN name TEXT;"
    "UPDATE products SET name = 'pen' WHERE sku = 'A1';",
};

TEST(SqliteMigrationsTest, NothingIsOpenedBeforeTheFirstStatement) {
  TempDb db("lazy");
  auto pool = MakePool(db.path(), kSchema, 3);
  EXPECT_EQ(pool->size(), 3u);
  EXPECT_EQ(pool->available(), 3u);
  EXPECT_FALSE(fs::exists(db.path()));
  EXPECT_EQ(Query(*pool, "SELECT count(*) AS n FROM products").At(0)["n"], Value(2));
  EXPECT_TRUE(fs::exists(db.path()));
  EXPECT_EQ(pool->available(), 3u);  // one open and free, two not opened yet
}

TEST(SqliteMigrationsTest, AppliesInOrderAndSetsUserVersion) {
  TempDb db("order");
  auto pool = MakePool(db.path(), kSchema);
  EXPECT_EQ(
      Query(*pool, "SELECT sku, price_cents, name FROM products ORDER BY sku"),
      Value::Array(
          {Value::Map({{"sku", Value("A1")}, {"price_cents", Value(250)}, {"name", Value("pen")}}),
           Value::Map({{"sku", Value("B2")}, {"price_cents", Value(1000)}, {"name", Value()}})}));
  EXPECT_EQ(UserVersion(*pool), 2);
}

TEST(SqliteMigrationsTest, RunsEachMigrationOncePerDatabase) {
  TempDb db("once");
  {
    auto first = MakePool(db.path(), {kSchema[0]});
    EXPECT_EQ(UserVersion(*first), 1);
    ASSERT_TRUE(first->Execute("INSERT INTO products VALUES ('C3', 99)"));
  }
  {
    // A restart with the same list: nothing re-runs (a second CREATE TABLE would fail).
    auto again = MakePool(db.path(), {kSchema[0]});
    ASSERT_TRUE(again->Prepare()) << again->Prepare().error().message;
    EXPECT_EQ(Query(*again, "SELECT count(*) AS n FROM products").At(0)["n"], Value(3));
  }
  // One more migration appended: only it runs.
  auto extended = MakePool(db.path(), kSchema);
  EXPECT_EQ(Query(*extended, "SELECT count(*) AS n, count(name) AS named FROM products").At(0),
            Value::Map({{"n", Value(3)}, {"named", Value(1)}}));
  EXPECT_EQ(UserVersion(*extended), 2);
}

TEST(SqliteMigrationsTest, LeavesADatabasePastTheListAlone) {
  TempDb db("past");
  {
    auto setup = MakePool(db.path(), {});
    ASSERT_TRUE(setup->Execute("PRAGMA user_version = 5"));
  }
  auto pool = MakePool(db.path(), kSchema);
  ASSERT_TRUE(pool->Prepare());
  EXPECT_EQ(UserVersion(*pool), 5);
  EXPECT_EQ(
      Query(*pool, "SELECT count(*) AS n FROM sqlite_master WHERE name = 'products'").At(0)["n"],
      Value(0));
}

TEST(SqliteMigrationsTest, AFailedMigrationIsRolledBackAndFailsEveryStatement) {
  TempDb db("fail");
  auto pool = MakePool(db.path(), {kSchema[0],
                                   "CREATE TABLE audit (at TEXT);"
                                   "INSERT INTO nowhere VALUES (1);",
                                   "CREATE TABLE later (x);"});
  const std::string expected =
      "sql.pool \"db\": migrations[1] failed: sqlite: no such table: nowhere";
  Status prepared = pool->Prepare();
  ASSERT_FALSE(prepared);
  EXPECT_EQ(prepared.error().message, expected);
  for (int i = 0; i < 2; ++i) {
    Result<SqlResult> r = pool->Execute("SELECT 1");
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().message, expected);
    Result<SqlitePool::Lease> lease = pool->Acquire(1s);
    ASSERT_FALSE(lease);
    EXPECT_EQ(lease.error().message, expected);
  }
  // Migration 0 stays applied; migration 1 left nothing behind; migration 2 never ran.
  auto look = MakePool(db.path(), {});
  EXPECT_EQ(UserVersion(*look), 1);
  EXPECT_EQ(Query(*look, "SELECT group_concat(name) AS t FROM sqlite_master WHERE type = 'table'")
                .At(0)["t"],
            Value("products"));
}

TEST(SqliteMigrationsTest, AnOpenFailureNamesThePoolAndIsSticky) {
  auto pool = MakePool("/nonexistent-epos-dir/app.db", kSchema);
  Result<SqlResult> r = pool->Execute("SELECT 1");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message,
            "sql.pool \"db\": sqlite: open \"/nonexistent-epos-dir/app.db\": unable to open "
            "database file");
  EXPECT_EQ(pool->Prepare().error().message, r.error().message);
}

TEST(SqliteMigrationsTest, AppliesToAnInMemoryDatabase) {
  auto pool = MakePool(":memory:", kSchema, 4);
  EXPECT_EQ(pool->size(), 1u);
  EXPECT_EQ(Query(*pool, "SELECT count(*) AS n FROM products").At(0)["n"], Value(2));
  EXPECT_EQ(UserVersion(*pool), 2);
}

// `threads` first uses at once on one pool, or on `pools` pools over the same file (as
// several processes would): the migrations run exactly once and every statement succeeds.
void RaceFirstUses(int threads, int pools) {
  TempDb db("race" + std::to_string(threads) + "x" + std::to_string(pools));
  std::vector<std::unique_ptr<SqlitePool>> all;
  for (int p = 0; p < pools; ++p) {
    all.push_back(MakePool(db.path(), {"CREATE TABLE runs (n INTEGER);"
                                       "INSERT INTO runs VALUES (1);"}));
  }
  std::atomic<int> ready{0};
  std::atomic<int> failures{0};
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      SqlitePool& pool = *all[static_cast<std::size_t>(t % pools)];
      ready.fetch_add(1);
      while (ready.load() < threads) std::this_thread::yield();
      Result<SqlResult> r = pool.Execute("SELECT count(*) AS n FROM runs");
      if (!r || r->rows.At(0)["n"] != Value(1)) failures.fetch_add(1);
    });
  }
  for (std::thread& w : workers) w.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(Query(*all[0], "SELECT count(*) AS n FROM runs").At(0)["n"], Value(1));
  EXPECT_EQ(UserVersion(*all[0]), 1);
}

TEST(SqliteMigrationsTest, ConcurrentFirstUses1) { RaceFirstUses(1, 1); }
TEST(SqliteMigrationsTest, ConcurrentFirstUses2) { RaceFirstUses(2, 1); }
TEST(SqliteMigrationsTest, ConcurrentFirstUses8) { RaceFirstUses(8, 1); }
TEST(SqliteMigrationsTest, ConcurrentFirstUsesOfTwoPools) { RaceFirstUses(8, 2); }
TEST(SqliteMigrationsTest, ConcurrentFirstUsesOfFourPools) { RaceFirstUses(8, 4); }

TEST(SqliteMigrationsTest, OpensConnectionsOnDemandUpToTheSize) {
  TempDb db("demand");
  auto pool = MakePool(db.path(), {}, 2);
  Result<SqlitePool::Lease> a = pool->Acquire(1s);
  ASSERT_TRUE(a) << a.error().message;
  Result<SqlitePool::Lease> b = pool->Acquire(1s);
  ASSERT_TRUE(b) << b.error().message;
  EXPECT_NE(&**a, &**b);
  EXPECT_EQ(pool->available(), 0u);
  Result<SqlitePool::Lease> c = pool->Acquire(10ms);
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().code, ErrorCode::kDeadlineExceeded);
}

}  // namespace
}  // namespace epos
