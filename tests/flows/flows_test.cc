// Data-driven tests of whole workflows through the real `epos` binary (CONVENTIONS.md:
// "a workflow YAML plus the input and the expected output, run through the CLI").
//
// Suites, all discovered when the test binary starts (so adding a file needs no C++):
//  - Flows: every case of every `tests/flows/*.cases.yaml` and `examples/**/*.cases.yaml`.
//    `X.cases.yaml` holds a sequence of cases for the spec file `X.yaml` beside it:
//      - name: doubles a number   # what the case shows; the test is named file_case
//        node: start              # --node
//        payload: {n: 2}          # any YAML value, given as --payload JSON (default null)
//        files: [a.yaml, b.yaml]  # optional: spec files instead of X.yaml
//        args: [--timeout, 1s]    # optional extra arguments of `epos call`
//        exit: 0                  # expected exit code (0 reply, 1 failed, 2 bad specs, 3 none)
//        output: {n: 4}           # expected stdout JSON, compared structurally
//        output_includes: {node: start}  # or: these top-level entries of a map output
//        error_contains: deadline # substring of the printed error's "error" field
//        stderr_contains: hello   # substring of stderr (log lines, spec errors)
//        stderr_lacks: hello      # text stderr must not hold
//    `epos call` runs with the cases file's directory as working directory and the spec
//    file names as written, so messages naming a file are stable and `args` may name
//    files beside it (`--values X.values.yaml`).
//  - BadSpecs: every `tests/flows/bad/X.yaml` must fail `epos validate X.yaml` (run in that
//    directory) with exit 2 and exactly the stderr stored in `X.expected`.
//  - ExampleSpecs: every spec file under `examples/` (`*.yaml` but not `*.cases.yaml` nor
//    `*.values.yaml`) must pass `epos validate` (with `--values X.values.yaml` when that
//    file exists) and have a non-empty `X.cases.yaml`.
//
// Each run of the binary is killed after kCaseTimeLimit and the test fails. Nothing is
// written to disk, so ctest may run these tests in parallel. `epos_tests` itself sees new
// files at once; ctest's list (gtest_discover_tests, after each link) after the next build.
#include <algorithm>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "epos/core/json.h"
#include "epos/core/value.h"
#include "epos/spec/loader.h"
#include "support/subprocess.h"

#ifndef EPOS_SOURCE_DIR
#error "EPOS_SOURCE_DIR must name the source tree (set in CMakeLists.txt)"
#endif
#ifndef EPOS_BINARY
#error "EPOS_BINARY must name the epos executable (set in CMakeLists.txt)"
#endif

namespace epos {
namespace {

namespace fs = std::filesystem;

constexpr std::chrono::seconds kCaseTimeLimit{30};

const fs::path& SourceDir() {
  static const fs::path dir(EPOS_SOURCE_DIR);
  return dir;
}

bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// Files under `dir` whose name ends with `suffix`, sorted; recursive or not.
std::vector<fs::path> FilesEndingWith(const fs::path& dir, std::string_view suffix,
                                      bool recursive) {
  std::vector<fs::path> found;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return found;
  auto consider = [&](const fs::directory_entry& entry) {
    if (entry.is_regular_file() && EndsWith(entry.path().filename().string(), suffix)) {
      found.push_back(entry.path());
    }
  };
  if (recursive) {
    for (const auto& entry : fs::recursive_directory_iterator(dir)) consider(entry);
  } else {
    for (const auto& entry : fs::directory_iterator(dir)) consider(entry);
  }
  std::sort(found.begin(), found.end());
  return found;
}

// ---------------------------------------------------------------------------------------
// Running the binary.

using testing_util::RunResult;

// Runs EPOS_BINARY with `args` in `cwd`, capturing stdout and stderr; no shell. The child
// is killed after kCaseTimeLimit.
RunResult RunEpos(const std::vector<std::string>& args, const fs::path& cwd) {
  std::vector<std::string> argv = {EPOS_BINARY};
  argv.insert(argv.end(), args.begin(), args.end());
  return testing_util::RunProcess(argv, cwd, kCaseTimeLimit);
}

std::string Describe(const std::vector<std::string>& args, const fs::path& cwd,
                     const RunResult& run) {
  std::string text = "(cd " + cwd.string() + " && epos";
  for (const std::string& a : args) text += " '" + a + "'";
  text += ")\n";
  if (!run.failure.empty()) text += "could not run: " + run.failure + "\n";
  if (run.timed_out) {
    text += "killed after " + std::to_string(kCaseTimeLimit.count()) + " s\n";
  }
  text += "exit " + std::to_string(run.exit_code) + "\nstdout: " + run.out + "\nstderr: " + run.err;
  return text;
}

// ---------------------------------------------------------------------------------------
// Flows: cases files.

struct FlowCase {
  std::string test_name;   // file_case, sanitized for gtest
  fs::path dir;            // working directory: the cases file's directory
  std::string cases_file;  // relative to the source tree, for messages
  std::string name;
  std::vector<std::string> files;
  std::string node;
  Value payload;
  std::vector<std::string> args;
  int exit = 0;
  std::optional<Value> output;
  std::optional<Value> output_includes;
  std::optional<std::string> error_contains;
  std::optional<std::string> stderr_contains;
  std::optional<std::string> stderr_lacks;
  std::string load_error;  // the cases file (or this case) is malformed
};

std::string Sanitize(std::string_view text) {
  std::string out;
  for (char c : text) {
    const bool word = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    if (word) {
      out += c;
    } else if (!out.empty() && out.back() != '_') {
      out += '_';
    }
  }
  while (!out.empty() && out.back() == '_') out.pop_back();
  return out.empty() ? "unnamed" : out;
}

std::optional<std::string> StringField(const Value& item, std::string_view key,
                                       std::string& error) {
  const Value* v = item.Find(key);
  if (v == nullptr) return std::nullopt;
  if (!v->IsString()) {
    error += "field \"" + std::string(key) + "\" must be a string; ";
    return std::nullopt;
  }
  return std::string(v->AsString());
}

std::vector<std::string> StringList(const Value& item, std::string_view key, std::string& error) {
  std::vector<std::string> list;
  const Value* v = item.Find(key);
  if (v == nullptr) return list;
  if (!v->IsArray()) {
    error += "field \"" + std::string(key) + "\" must be a list; ";
    return list;
  }
  for (const Value& a : v->AsArray()) {
    if (a.IsString()) {
      list.emplace_back(a.AsString());
    } else if (a.IsInt()) {
      list.push_back(std::to_string(a.AsInt()));
    } else {
      error += "field \"" + std::string(key) + "\" must hold strings; ";
    }
  }
  return list;
}

FlowCase DecodeCase(const Value& item, const fs::path& cases_path, std::size_t index) {
  static constexpr std::string_view kKnown[] = {
      "name",        "node",   "payload",         "files",          "args",
      "exit",        "output", "output_includes", "error_contains", "stderr_contains",
      "stderr_lacks"};
  FlowCase c;
  c.dir = cases_path.parent_path();
  c.cases_file = fs::relative(cases_path, SourceDir()).string();
  const std::string stem = cases_path.filename().string().substr(
      0, cases_path.filename().string().size() - std::string_view(".cases.yaml").size());
  c.name = "case " + std::to_string(index + 1);
  if (!item.IsMap()) {
    c.load_error = "case " + std::to_string(index + 1) + " is not a map";
    return c;
  }
  for (const MapEntry& e : item.AsMap()) {
    if (std::find(std::begin(kKnown), std::end(kKnown), e.key) == std::end(kKnown)) {
      c.load_error += "unknown field \"" + e.key + "\"; ";
    }
  }
  if (auto name = StringField(item, "name", c.load_error)) c.name = *name;
  if (auto node = StringField(item, "node", c.load_error)) {
    c.node = *node;
  } else {
    c.load_error += "field \"node\" is required; ";
  }
  if (const Value* payload = item.Find("payload")) c.payload = *payload;
  c.files = StringList(item, "files", c.load_error);
  if (c.files.empty()) c.files.push_back(stem + ".yaml");
  c.args = StringList(item, "args", c.load_error);
  if (const Value* exit = item.Find("exit"); exit != nullptr && exit->IsInt()) {
    c.exit = static_cast<int>(exit->AsInt());
  } else {
    c.load_error += "field \"exit\" (an integer) is required; ";
  }
  if (const Value* output = item.Find("output")) c.output = *output;
  if (const Value* includes = item.Find("output_includes")) {
    if (includes->IsMap()) {
      c.output_includes = *includes;
    } else {
      c.load_error += "field \"output_includes\" must be a map; ";
    }
  }
  c.error_contains = StringField(item, "error_contains", c.load_error);
  c.stderr_contains = StringField(item, "stderr_contains", c.load_error);
  c.stderr_lacks = StringField(item, "stderr_lacks", c.load_error);
  if (c.exit == 3 && (c.output || c.output_includes || c.error_contains)) {
    c.load_error += "exit 3 prints nothing: no output, output_includes or error_contains; ";
  }
  return c;
}

std::vector<FlowCase> LoadCasesFile(const fs::path& path) {
  std::vector<FlowCase> cases;
  Result<Value> parsed = ParseYamlValue(ReadFile(path), path.string());
  const std::string prefix = Sanitize(fs::relative(path, SourceDir()).string());
  if (!parsed || !parsed->IsArray() || parsed->size() == 0) {
    FlowCase c;
    c.cases_file = fs::relative(path, SourceDir()).string();
    c.load_error = !parsed ? parsed.error().message : "expected a non-empty list of cases";
    c.test_name = prefix;
    cases.push_back(std::move(c));
    return cases;
  }
  for (std::size_t i = 0; i < parsed->size(); ++i) {
    cases.push_back(DecodeCase(parsed->At(i), path, i));
  }
  return cases;
}

std::vector<FlowCase> AllFlowCases() {
  std::vector<fs::path> files = FilesEndingWith(SourceDir() / "tests" / "flows", ".cases.yaml",
                                                /*recursive=*/false);
  std::vector<fs::path> examples =
      FilesEndingWith(SourceDir() / "examples", ".cases.yaml", /*recursive=*/true);
  files.insert(files.end(), examples.begin(), examples.end());
  std::vector<FlowCase> all;
  std::vector<std::string> names;
  for (const fs::path& file : files) {
    for (FlowCase& c : LoadCasesFile(file)) {
      if (c.test_name.empty()) {
        // tests/flows/routing.cases.yaml, "if true" → routing_if_true
        std::string rel = fs::relative(file, SourceDir()).string();
        if (rel.rfind("tests/flows/", 0) == 0) rel = rel.substr(std::strlen("tests/flows/"));
        rel = rel.substr(0, rel.size() - std::strlen(".cases.yaml"));
        c.test_name = Sanitize(rel + "_" + c.name);
      }
      std::string unique = c.test_name;
      for (int n = 2; std::find(names.begin(), names.end(), unique) != names.end(); ++n) {
        unique = c.test_name + "_" + std::to_string(n);
      }
      c.test_name = unique;
      names.push_back(unique);
      all.push_back(std::move(c));
    }
  }
  return all;
}

// gtest prints parameters of failing tests; the name is what identifies a case.
void PrintTo(const FlowCase& c, std::ostream* os) { *os << c.cases_file << ": " << c.name; }

class Flows : public testing::TestWithParam<FlowCase> {};

TEST_P(Flows, Case) {
  const FlowCase& c = GetParam();
  SCOPED_TRACE(c.cases_file + ": " + c.name);
  ASSERT_TRUE(c.load_error.empty()) << c.cases_file << ": " << c.load_error;

  std::vector<std::string> args = {"call"};
  args.insert(args.end(), c.files.begin(), c.files.end());
  args.insert(args.end(), {"--node", c.node, "--payload", ToJson(c.payload)});
  args.insert(args.end(), c.args.begin(), c.args.end());
  const RunResult run = RunEpos(args, c.dir);
  const std::string what = Describe(args, c.dir, run);
  ASSERT_TRUE(run.failure.empty() && !run.timed_out) << what;
  ASSERT_EQ(run.exit_code, c.exit) << what;

  if (c.stderr_contains) {
    EXPECT_NE(run.err.find(*c.stderr_contains), std::string::npos)
        << "stderr lacks \"" << *c.stderr_contains << "\"\n"
        << what;
  }
  if (c.stderr_lacks) {
    EXPECT_EQ(run.err.find(*c.stderr_lacks), std::string::npos)
        << "stderr holds \"" << *c.stderr_lacks << "\"\n"
        << what;
  }
  if (c.exit == 3) {
    EXPECT_EQ(run.out, "") << what;
    return;
  }
  if (c.exit == 2) return;  // the errors are on stderr
  Result<Value> actual = ParseJson(run.out);
  ASSERT_TRUE(actual.has_value()) << "stdout is not JSON: "
                                  << (actual ? "" : actual.error().message) << "\n"
                                  << what;
  if (c.output) {
    EXPECT_TRUE(*actual == *c.output) << "expected " << ToJson(*c.output) << "\n" << what;
  }
  if (c.output_includes) {
    for (const MapEntry& e : c.output_includes->AsMap()) {
      const Value* got = actual->Find(e.key);
      EXPECT_TRUE(got != nullptr && *got == e.value)
          << "expected \"" << e.key << "\": " << ToJson(e.value) << "\n"
          << what;
    }
  }
  if (c.error_contains) {
    const Value* error = actual->Find("error");
    ASSERT_TRUE(error != nullptr && error->IsString()) << "no \"error\" string\n" << what;
    EXPECT_NE(error->AsString().find(*c.error_contains), std::string_view::npos)
        << "error lacks \"" << *c.error_contains << "\"\n"
        << what;
  }
}

INSTANTIATE_TEST_SUITE_P(Cases, Flows, testing::ValuesIn(AllFlowCases()),
                         [](const testing::TestParamInfo<FlowCase>& info) {
                           return info.param.test_name;
                         });

// ---------------------------------------------------------------------------------------
// BadSpecs: `epos validate` diagnostics, byte for byte.

struct BadSpec {
  std::string test_name;
  fs::path file;
};

std::vector<BadSpec> AllBadSpecs() {
  std::vector<BadSpec> all;
  for (const fs::path& file : FilesEndingWith(SourceDir() / "tests" / "flows" / "bad", ".yaml",
                                              /*recursive=*/false)) {
    all.push_back({Sanitize(file.stem().string()), file});
  }
  return all;
}

void PrintTo(const BadSpec& b, std::ostream* os) { *os << b.file.string(); }

class BadSpecs : public testing::TestWithParam<BadSpec> {};

TEST_P(BadSpecs, Validate) {
  const fs::path& file = GetParam().file;
  fs::path expected_path = file;
  expected_path.replace_extension(".expected");
  ASSERT_TRUE(fs::exists(expected_path)) << "missing " << expected_path;
  const std::vector<std::string> args = {"validate", file.filename().string()};
  const RunResult run = RunEpos(args, file.parent_path());
  const std::string what = Describe(args, file.parent_path(), run);
  ASSERT_TRUE(run.failure.empty() && !run.timed_out) << what;
  EXPECT_EQ(run.exit_code, 2) << what;
  EXPECT_EQ(run.out, "") << what;
  EXPECT_EQ(run.err, ReadFile(expected_path)) << what;
}

INSTANTIATE_TEST_SUITE_P(Files, BadSpecs, testing::ValuesIn(AllBadSpecs()),
                         [](const testing::TestParamInfo<BadSpec>& info) {
                           return info.param.test_name;
                         });

// ---------------------------------------------------------------------------------------
// ExampleSpecs: every example validates and is exercised by a cases file.

struct ExampleSpec {
  std::string test_name;
  fs::path file;
};

std::vector<ExampleSpec> AllExampleSpecs() {
  std::vector<ExampleSpec> all;
  for (const fs::path& file :
       FilesEndingWith(SourceDir() / "examples", ".yaml", /*recursive=*/true)) {
    const std::string name = file.filename().string();
    if (EndsWith(name, ".cases.yaml") || EndsWith(name, ".values.yaml")) continue;
    all.push_back({Sanitize(fs::relative(file, SourceDir() / "examples").string()), file});
  }
  return all;
}

void PrintTo(const ExampleSpec& e, std::ostream* os) { *os << e.file.string(); }

class ExampleSpecs : public testing::TestWithParam<ExampleSpec> {};

TEST_P(ExampleSpecs, ValidatesAndHasCases) {
  const fs::path& file = GetParam().file;
  std::vector<std::string> args = {"validate", file.filename().string()};
  fs::path values = file;
  values.replace_extension(".values.yaml");
  if (fs::exists(values)) args.insert(args.end(), {"--values", values.filename().string()});
  const RunResult run = RunEpos(args, file.parent_path());
  EXPECT_EQ(run.exit_code, 0) << Describe(args, file.parent_path(), run);

  fs::path cases = file;
  cases.replace_extension(".cases.yaml");
  ASSERT_TRUE(fs::exists(cases)) << file << " has no cases file " << cases.filename();
  Result<Value> parsed = ParseYamlValue(ReadFile(cases), cases.string());
  ASSERT_TRUE(parsed.has_value()) << parsed.error().message;
  EXPECT_TRUE(parsed->IsArray() && parsed->size() > 0) << cases << " holds no cases";
}

INSTANTIATE_TEST_SUITE_P(Files, ExampleSpecs, testing::ValuesIn(AllExampleSpecs()),
                         [](const testing::TestParamInfo<ExampleSpec>& info) {
                           return info.param.test_name;
                         });

// An empty suite would hide a broken discovery (a wrong EPOS_SOURCE_DIR, say).
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(BadSpecs);
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(ExampleSpecs);

TEST(FlowsDiscovery, FindsCasesAndExamples) {
  EXPECT_FALSE(AllFlowCases().empty()) << "no *.cases.yaml under " << SourceDir();
  EXPECT_FALSE(AllBadSpecs().empty()) << "no tests/flows/bad/*.yaml under " << SourceDir();
  EXPECT_FALSE(AllExampleSpecs().empty()) << "no examples/**/*.yaml under " << SourceDir();
}

}  // namespace
}  // namespace epos
