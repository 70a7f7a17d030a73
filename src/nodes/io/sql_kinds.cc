#include <filesystem>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "epos/exec/context.h"
#include "epos/nodes/sql.h"

namespace epos {
namespace {

// A statement and its arguments, from one of the three input shapes.
struct Statement {
  std::string query;
  Value args;  // null, array or map
};

Result<Statement> StatementOf(const Value& payload) {
  auto bad = [] {
    return MakeError(ErrorCode::kInvalidArgument,
                     "sql input must be \"query\", [query, arg...] or {query, args}");
  };
  if (payload.IsString()) return Statement{std::string(payload.AsString()), Value()};
  if (payload.IsArray()) {
    std::span<const Value> items = payload.AsArray();
    if (items.empty() || !items[0].IsString()) return bad();
    return Statement{std::string(items[0].AsString()),
                     Value::Array(std::vector<Value>(items.begin() + 1, items.end()))};
  }
  if (payload.IsMap()) {
    const Value* query = payload.Find("query");
    if (query == nullptr || !query->IsString()) return bad();
    const Value* args = payload.Find("args");
    return Statement{std::string(query->AsString()), args != nullptr ? *args : Value()};
  }
  return bad();
}

class SqlNode final : public Node {
 public:
  explicit SqlNode(std::shared_ptr<SqlitePool> pool) : pool_(std::move(pool)) {}

  void OnPulse(Context& ctx, PortIndex port, Value payload) override {
    if (port == kResumePort) {
      ctx.Emit(0, std::move(payload));
      return;
    }
    if (port == kResumeErrorPort) {
      ctx.Fail(payload.IsString() ? payload.AsString() : std::string_view("sql failed"));
      return;
    }
    Result<Statement> statement = StatementOf(payload);
    if (!statement) {
      ctx.Fail(statement.error().message);
      return;
    }
    Status started =
        ctx.RunBlocking([pool = pool_, statement = std::move(*statement)]() -> Result<Value> {
          Result<SqlitePool::Lease> db = pool->Acquire();
          if (!db) return tl::unexpected(std::move(db.error()));
          Result<SqlResult> result = (*db)->Execute(statement.query, statement.args);
          if (!result) return tl::unexpected(result.error());
          return std::move(result->rows);
        });
    if (!started) ctx.Fail(started.error().message);
  }

 private:
  const std::shared_ptr<SqlitePool> pool_;
};

// `source` resolved against the spec file's directory; ":memory:" as is.
std::string SourcePath(const SpecDecoder& d, const std::string& source) {
  if (source == ":memory:" || source.starts_with("file:")) return source;
  std::filesystem::path path(source);
  if (path.is_absolute()) return source;
  std::filesystem::path dir = std::filesystem::path(d.spec().pos.file).parent_path();
  return (dir / path).lexically_normal().string();
}

// A pool from `driver`, `source`, a size and migrations; problems are reported on `d`.
// Nothing is opened here (so `epos validate` creates no database file): the pool opens its
// database and applies the migrations when its first statement runs.
std::shared_ptr<SqlitePool> MakePool(SpecDecoder& d, std::size_t size,
                                     std::vector<std::string> migrations) {
  std::optional<std::string> driver = d.Choice("driver", {"sqlite", "postgres"});
  std::optional<std::string> source = d.String("source");
  if (!driver || !source) return nullptr;
  if (*driver == "postgres") {
    d.Error("driver", "driver \"postgres\" is not supported yet (use sqlite)");
    return nullptr;
  }
  SqlitePoolOptions options;
  options.connection.path = SourcePath(d, *source);
  options.size = size;
  options.migrations = std::move(migrations);
  options.name = d.spec().kind + " \"" + d.spec().name + "\"";
  // What can be checked without creating the file: the directory it would go in.
  if (*source != ":memory:" && !source->starts_with("file:")) {
    std::filesystem::path dir = std::filesystem::path(options.connection.path).parent_path();
    std::error_code ec;
    if (!dir.empty() && !std::filesystem::is_directory(dir, ec)) {
      d.Error("source", "directory \"" + dir.string() + "\" does not exist");
      return nullptr;
    }
  }
  return SqlitePool::Create(std::move(options));
}

// `migrations`: an optional list of SQL scripts.
std::optional<std::vector<std::string>> Migrations(SpecDecoder& d) {
  std::vector<std::string> scripts;
  if (!d.Has("migrations")) return scripts;
  const Value* list = d.Array("migrations");
  if (list == nullptr) return std::nullopt;
  bool ok = true;
  for (std::size_t i = 0; i < list->size(); ++i) {
    const Value item = list->At(i);
    std::optional<std::string> script = d.StringAt(&item, "migrations." + std::to_string(i));
    if (!script) {
      ok = false;
      continue;
    }
    scripts.push_back(std::move(*script));
  }
  if (!ok) return std::nullopt;
  return scripts;
}

}  // namespace

std::unique_ptr<Node> MakeSqlNode(std::shared_ptr<SqlitePool> pool) {
  return std::make_unique<SqlNode>(std::move(pool));
}

Status RegisterSqlKinds(Scheme& scheme) {
  Status status =
      scheme.Register({.name = "sql.pool",
                       .summary = "a pool of database connections shared by sql nodes (a resource)",
                       .fields = {"driver", "source", "size", "migrations"},
                       .compile = {},
                       .make_resource = [](SpecDecoder& d) -> std::shared_ptr<Resource> {
                         std::optional<std::int64_t> size = d.Int("size", Need::kOptional);
                         if (size && (*size < 1 || *size > 256)) {
                           d.Error("size", "must be between 1 and 256");
                           return nullptr;
                         }
                         std::optional<std::vector<std::string>> migrations = Migrations(d);
                         std::shared_ptr<SqlitePool> pool =
                             MakePool(d, static_cast<std::size_t>(size.value_or(4)),
                                      migrations.value_or(std::vector<std::string>{}));
                         if (!pool || !migrations) return nullptr;
                         return std::make_shared<SqlPoolResource>(std::move(pool));
                       }});
  if (!status) return status;
  return scheme.Register({.name = "sql",
                          .summary = "runs a SQL statement on the blocking pool; out: the rows",
                          .fields = {"driver", "source", "resource"},
                          .compile = [](SpecDecoder& d) -> std::unique_ptr<Node> {
                            if (d.Has("resource")) {
                              if (d.Has("driver") || d.Has("source")) {
                                d.Error("resource",
                                        "give either resource or driver and source, not both");
                                return nullptr;
                              }
                              auto pool = d.Resource<SqlPoolResource>("resource", {"sql.pool"});
                              if (!pool) return nullptr;
                              return MakeSqlNode(pool->pool());
                            }
                            std::shared_ptr<SqlitePool> pool = MakePool(d, 1, {});
                            if (!pool) return nullptr;
                            return MakeSqlNode(std::move(pool));
                          }});
}

}  // namespace epos
