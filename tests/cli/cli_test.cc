// The `epos` command line, through the real binary (EPOS_BINARY): `run` (start, stop on a
// signal, --watch hot reload), `validate`, `graph`, `--help`, logging options and `call`'s
// argument errors, unknown commands. Workflow behaviour itself is covered by tests/flows.
//
// A long-running `epos run` is synchronised on its stderr: a test waits until the line it
// expects arrives (Subprocess::WaitForStderrLine), never for a fixed time; every wait has
// a generous limit past which the test fails. Each test writes its specs to its own
// temporary directory, so ctest may run them in parallel.
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "epos/core/json.h"
#include "epos/core/value.h"
#include "support/http_client.h"
#include "support/subprocess.h"
#include "support/temp_dir.h"

#ifndef EPOS_BINARY
#error "EPOS_BINARY must name the epos executable (set in CMakeLists.txt)"
#endif

namespace epos {
namespace {

namespace fs = std::filesystem;
using testing_util::RunResult;
using testing_util::Subprocess;

// Generous: only a broken binary or a hang comes near these.
constexpr std::chrono::seconds kRunTimeLimit{30};
constexpr std::chrono::seconds kLineTimeLimit{30};

// A namespace of two nodes: greet (Lua) → done (reply).
constexpr std::string_view kGreetSpec = R"(- kind: snippet
  name: greet
  language: lua
  code: |
    return function(payload, ctx) return "hello " .. payload end
  ports:
    out:
      - name: done
- kind: reply
  name: done
)";

// Extra arguments and the message they must put on stderr.
struct ArgumentError {
  std::vector<std::string> extra;
  std::string message;
};

using testing_util::TempDir;

// Writes `text` to `path` through a new file renamed over it: the watcher sees a new inode
// (and a whole file, never a half-written one) whatever the file system's mtime granularity.
void WriteFileAtomically(const fs::path& path, std::string_view text) {
  const fs::path tmp = path.string() + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << text;
    ASSERT_TRUE(out.good()) << "cannot write " << tmp;
  }
  fs::rename(tmp, path);
}

std::vector<std::string> Argv(std::vector<std::string> args) {
  args.insert(args.begin(), EPOS_BINARY);
  return args;
}

RunResult RunEpos(const std::vector<std::string>& args, const fs::path& cwd = fs::current_path()) {
  return testing_util::RunProcess(Argv(args), cwd, kRunTimeLimit);
}

std::string Describe(const std::vector<std::string>& args, const RunResult& run) {
  std::string text = "epos";
  for (const std::string& a : args) text += " '" + a + "'";
  text += "\n";
  if (!run.failure.empty()) text += "could not run: " + run.failure + "\n";
  if (run.timed_out) text += "killed after " + std::to_string(kRunTimeLimit.count()) + " s\n";
  return text + "exit " + std::to_string(run.exit_code) + "\nstdout: " + run.out +
         "\nstderr: " + run.err;
}

bool Contains(std::string_view text, std::string_view part) {
  return text.find(part) != std::string_view::npos;
}

// A started `epos run`, for the tests that talk to it.
class RunningEpos {
 public:
  explicit RunningEpos(std::vector<std::string> args, const fs::path& cwd)
      : args_(std::move(args)) {
    started_ = child_.Start(Argv(args_), cwd);
  }
  bool started() const { return started_; }
  Subprocess& child() { return child_; }

  // The next stderr line holding `needle`, or "" (and a test failure naming it).
  std::string ExpectLine(std::string_view needle) {
    std::optional<std::string> line = child_.WaitForStderrLine(needle, kLineTimeLimit);
    if (!line) {
      ADD_FAILURE() << "no stderr line with \"" << needle << "\" within " << kLineTimeLimit.count()
                    << " s\n"
                    << What();
      return "";
    }
    return *line;
  }

  std::string What() const {
    std::string text = "epos";
    for (const std::string& a : args_) text += " '" + a + "'";
    return text + "\nstdout: " + child_.out() + "\nstderr: " + child_.err();
  }

 private:
  std::vector<std::string> args_;
  Subprocess child_;
  bool started_ = false;
};

// ---------------------------------------------------------------------------------------
// run: start and stop

void ExpectStopsOnSignal(int signal, std::string_view signal_name) {
  TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  WriteFileAtomically(dir.path() / "greet.yaml", kGreetSpec);
  RunningEpos epos({"run", "greet.yaml", "--workers", "2"}, dir.path());
  ASSERT_TRUE(epos.started()) << epos.child().failure();
  EXPECT_TRUE(Contains(epos.ExpectLine("namespace default: version 1 active"), "2 nodes"));
  ASSERT_FALSE(epos.ExpectLine("running; press Ctrl-C to stop").empty());

  epos.child().Signal(signal);
  EXPECT_FALSE(epos.ExpectLine(std::string(signal_name) + " received: stopping").empty());
  EXPECT_FALSE(epos.ExpectLine("stopped: ").empty());
  EXPECT_EQ(epos.child().Wait(kRunTimeLimit), 0) << epos.What();
}

TEST(CliRun, StopsGracefullyOnSigterm) { ExpectStopsOnSignal(SIGTERM, "SIGTERM"); }

TEST(CliRun, StopsGracefullyOnSigint) { ExpectStopsOnSignal(SIGINT, "SIGINT"); }

TEST(CliRun, BadSpecsExitTwoWithEveryError) {
  TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  WriteFileAtomically(dir.path() / "bad.yaml", R"(- kind: snipet
  name: greet
- kind: reply
  name: done
  ports:
    out:
      - name: nowhere
)");
  const std::vector<std::string> args = {"run", "bad.yaml"};
  const RunResult run = RunEpos(args, dir.path());
  const std::string what = Describe(args, run);
  EXPECT_EQ(run.exit_code, 2) << what;
  EXPECT_TRUE(Contains(run.err,
                       "bad.yaml:1:9: spec \"greet\": field \"kind\": unknown kind "
                       "\"snipet\"; did you mean \"snippet\"?"))
      << what;
  EXPECT_TRUE(Contains(run.err, "bad.yaml:6:5: spec \"done\"")) << what;
  EXPECT_TRUE(Contains(run.err, "2 errors")) << what;
  EXPECT_FALSE(Contains(run.err, "active")) << what;
}

TEST(CliRun, BadDurationsExitTwo) {
  TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  WriteFileAtomically(dir.path() / "greet.yaml", kGreetSpec);
  const std::vector<ArgumentError> cases = {
      {{"--watch", "--watch-interval", "often"},
       "epos run: --watch-interval: bad duration \"often\""},
      {{"--watch", "--watch-interval", "0s"}, "epos run: --watch-interval: must be more than 0s"},
      {{"--drain", "-1s"}, "epos run: --drain: bad duration \"-1s\""},
  };
  for (const ArgumentError& c : cases) {
    std::vector<std::string> args = {"run", "greet.yaml"};
    args.insert(args.end(), c.extra.begin(), c.extra.end());
    const RunResult run = RunEpos(args, dir.path());
    EXPECT_EQ(run.exit_code, 2) << Describe(args, run);
    EXPECT_TRUE(Contains(run.err, c.message)) << Describe(args, run);
    EXPECT_FALSE(Contains(run.err, "active")) << Describe(args, run);
  }
}

// ---------------------------------------------------------------------------------------
// run --watch: hot reload

TEST(CliRunWatch, AppliesGoodChangesAndKeepsRunningThroughBadOnes) {
  TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  const fs::path spec = dir.path() / "flow.yaml";
  WriteFileAtomically(spec, kGreetSpec);
  RunningEpos epos({"run", "flow.yaml", "--watch", "--watch-interval", "20ms", "--workers", "1"},
                   dir.path());
  ASSERT_TRUE(epos.started()) << epos.child().failure();
  ASSERT_FALSE(epos.ExpectLine("namespace default: version 1 active").empty());
  ASSERT_FALSE(epos.ExpectLine("watching 1 files for changes").empty());

  // A valid change: a third node.
  WriteFileAtomically(spec, std::string(kGreetSpec) + "- kind: nop\n  name: spare\n");
  std::string line = epos.ExpectLine("namespace default: version 2 active");
  EXPECT_TRUE(Contains(line, "3 nodes")) << line;
  EXPECT_TRUE(Contains(line, "replacing version 1")) << line;

  // A broken change: the error at its place, then the namespace keeps version 2.
  WriteFileAtomically(spec, std::string(kGreetSpec) + "- kind: nopp\n  name: spare\n");
  line = epos.ExpectLine("flow.yaml:11:9: spec \"spare\": field \"kind\": unknown kind \"nopp\"");
  EXPECT_TRUE(Contains(line, "did you mean \"nop\"")) << line;
  line = epos.ExpectLine("namespace default: change not applied");
  EXPECT_TRUE(Contains(line, "(1 error)")) << line;
  EXPECT_TRUE(Contains(line, "version 2 keeps running")) << line;

  // Fixed again: the next version number, replacing the one that kept running. (Every
  // version of the file has its own size: the renamed file may reuse a freed inode.)
  WriteFileAtomically(spec, std::string(kGreetSpec) + "- kind: nop\n  name: spare_two\n");
  line = epos.ExpectLine("namespace default: version 3 active");
  EXPECT_TRUE(Contains(line, "replacing version 2")) << line;

  epos.child().Signal(SIGTERM);
  EXPECT_FALSE(epos.ExpectLine("stopped: ").empty());
  EXPECT_EQ(epos.child().Wait(kRunTimeLimit), 0) << epos.What();
  EXPECT_FALSE(Contains(epos.child().err(), "version 4")) << epos.What();
}

// ---------------------------------------------------------------------------------------
// run: HTTP listeners

// A listener on an ephemeral port; GET /slow logs, waits 300ms and answers "done".
constexpr std::string_view kServeSpec = R"(- kind: listener
  name: web
  port: 0
  ports: {out: [{name: routes}]}
- kind: router
  name: routes
  routes:
    - {method: GET, path: /slow, port: 'out[0]'}
    - {method: GET, path: /hello, port: 'out[1]'}
  ports:
    'out[0]': [{name: seen}]
    'out[1]': [{name: hello}]
- kind: log
  name: seen
  message: "request in {{ payload.path }}"
  ports: {out: [{name: wait}]}
- kind: sleep
  name: wait
  duration: 300ms
  ports: {out: [{name: done}]}
- kind: snippet
  name: done
  language: text
  code: done
- kind: snippet
  name: hello
  language: text
  code: hello
)";

// The port of the "listening on http://127.0.0.1:PORT" line, or 0.
std::uint16_t ListeningPort(RunningEpos& epos) {
  std::string line = epos.ExpectLine("listening on http://127.0.0.1:");
  std::size_t colon = line.rfind(':');
  return colon == std::string::npos ? 0
                                    : static_cast<std::uint16_t>(std::stoi(line.substr(colon + 1)));
}

TEST(CliServe, AnswersRequestsInFlightOnSigtermThenExits) {
  TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  WriteFileAtomically(dir.path() / "web.yaml", kServeSpec);
  RunningEpos epos({"run", "web.yaml", "--workers", "2"}, dir.path());
  ASSERT_TRUE(epos.started()) << epos.child().failure();
  std::uint16_t port = ListeningPort(epos);
  ASSERT_NE(port, 0) << epos.What();
  EXPECT_EQ(testing::HttpTestClient(port).Get("/hello").body(), "hello");

  testing::HttpTestResponse slow;
  std::thread client([&] { slow = testing::HttpTestClient(port).Get("/slow"); });
  // The request is in its trace (past the log node) when the signal arrives.
  EXPECT_FALSE(epos.ExpectLine("request in /slow").empty());
  epos.child().Signal(SIGTERM);
  client.join();
  EXPECT_EQ(slow.result_int(), 200) << slow.body();
  EXPECT_EQ(slow.body(), "done");
  EXPECT_FALSE(epos.ExpectLine("stopped: ").empty());
  EXPECT_EQ(epos.child().Wait(kRunTimeLimit), 0) << epos.What();
  EXPECT_THROW(testing::HttpTestClient{port}, boost::system::system_error);
}

TEST(CliServe, HotReloadSwapsTheGraphUnderOpenConnections) {
  TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  const fs::path spec = dir.path() / "web.yaml";
  WriteFileAtomically(spec, kServeSpec);
  RunningEpos epos({"run", "web.yaml", "--watch", "--watch-interval", "20ms", "--workers", "1"},
                   dir.path());
  ASSERT_TRUE(epos.started()) << epos.child().failure();
  std::uint16_t port = ListeningPort(epos);
  ASSERT_NE(port, 0) << epos.What();
  // The watcher notes the files' state when it starts: a change before then goes unseen.
  ASSERT_FALSE(epos.ExpectLine("watching 1 files for changes").empty());
  testing::HttpTestClient kept(port);
  EXPECT_EQ(kept.Get("/hello").body(), "hello");

  std::string changed(kServeSpec);
  changed.replace(changed.rfind("code: hello"), 11, "code: hello again");
  WriteFileAtomically(spec, changed);
  EXPECT_FALSE(epos.ExpectLine("namespace default: version 2 active").empty());
  EXPECT_EQ(kept.Get("/hello").body(), "hello again");
  EXPECT_EQ(testing::HttpTestClient(port).Get("/hello").body(), "hello again");

  epos.child().Signal(SIGTERM);
  EXPECT_EQ(epos.child().Wait(kRunTimeLimit), 0) << epos.What();
  // The listener was bound once: the reload kept its socket.
  const std::string& err = epos.child().err();
  std::size_t first = err.find("listening on");
  EXPECT_EQ(err.find("listening on", first + 1), std::string::npos) << err;
}

TEST(CliServe, PortInUseExitsOne) {
  TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  WriteFileAtomically(dir.path() / "web.yaml", kServeSpec);
  RunningEpos first({"run", "web.yaml", "--workers", "1"}, dir.path());
  ASSERT_TRUE(first.started()) << first.child().failure();
  std::uint16_t port = ListeningPort(first);
  ASSERT_NE(port, 0) << first.What();

  const std::vector<std::string> args = {"run", "taken.yaml"};
  std::string taken(kServeSpec);
  taken.replace(taken.find("port: 0"), 7, "port: " + std::to_string(port));
  WriteFileAtomically(dir.path() / "taken.yaml", taken);
  const RunResult run = RunEpos(args, dir.path());
  EXPECT_EQ(run.exit_code, 1) << Describe(args, run);
  EXPECT_TRUE(Contains(run.err, "listener \"web\" (namespace default): listen 127.0.0.1:" +
                                    std::to_string(port) + ": address already in use"))
      << run.err;
  first.child().Signal(SIGTERM);
  EXPECT_EQ(first.child().Wait(kRunTimeLimit), 0) << first.What();
}

// ---------------------------------------------------------------------------------------
// validate and graph

TEST(CliValidate, ReportsEachNamespace) {
  TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  WriteFileAtomically(dir.path() / "greet.yaml", kGreetSpec);
  WriteFileAtomically(dir.path() / "other.yaml", "- {kind: nop, name: a, namespace: other}\n");
  const std::vector<std::string> args = {"validate", "greet.yaml", "other.yaml"};
  const RunResult run = RunEpos(args, dir.path());
  EXPECT_EQ(run.exit_code, 0) << Describe(args, run);
  EXPECT_EQ(run.out,
            "namespace default: 2 nodes, 1 connections: ok\n"
            "namespace other: 1 nodes, 0 connections: ok\n")
      << Describe(args, run);
}

TEST(CliValidate, BadSpecsExitTwo) {
  TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  WriteFileAtomically(dir.path() / "bad.yaml", "- kind: reply\n");
  const std::vector<std::string> args = {"validate", "bad.yaml"};
  const RunResult run = RunEpos(args, dir.path());
  EXPECT_EQ(run.exit_code, 2) << Describe(args, run);
  EXPECT_EQ(run.out, "") << Describe(args, run);
  EXPECT_TRUE(Contains(run.err, "bad.yaml:1:3: ")) << Describe(args, run);
  EXPECT_TRUE(Contains(run.err, "1 error\n")) << Describe(args, run);
}

TEST(CliValidate, MissingFileExitsTwo) {
  const std::vector<std::string> args = {"validate", "/nonexistent/epos/spec.yaml"};
  const RunResult run = RunEpos(args);
  EXPECT_EQ(run.exit_code, 2) << Describe(args, run);
  EXPECT_TRUE(Contains(run.err, "/nonexistent/epos/spec.yaml")) << Describe(args, run);
}

constexpr std::string_view kGuardedSpec = R"(- kind: snippet
  name: start
  language: json
  code: "5"
  ports:
    out:
      - name: big
        when: "payload > 3"
      - name: small
    error:
      - name: small
- kind: reply
  name: big
- kind: reply
  name: small
)";

TEST(CliGraph, Dot) {
  TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  WriteFileAtomically(dir.path() / "g.yaml", kGuardedSpec);
  const std::vector<std::string> args = {"graph", "g.yaml", "--format", "dot"};
  const RunResult run = RunEpos(args, dir.path());
  const std::string what = Describe(args, run);
  ASSERT_EQ(run.exit_code, 0) << what;
  EXPECT_TRUE(run.out.starts_with("digraph \"default\" {\n")) << what;
  EXPECT_TRUE(Contains(run.out, "rankdir=LR;")) << what;
  EXPECT_TRUE(Contains(run.out, R"~(n0 [label="start\n(snippet)"];)~")) << what;
  EXPECT_TRUE(Contains(run.out, R"~(n1 [label="big\n(reply)"];)~")) << what;
  EXPECT_TRUE(Contains(run.out, R"~(n0 -> n1 [label="when: payload > 3"];)~")) << what;
  EXPECT_TRUE(Contains(run.out, "n0 -> n2;")) << what;
  EXPECT_TRUE(Contains(run.out, R"~(n0 -> n2 [label="error")~")) << what;
  EXPECT_TRUE(run.out.ends_with("}\n")) << what;
}

TEST(CliGraph, Mermaid) {
  TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  WriteFileAtomically(dir.path() / "g.yaml", kGuardedSpec);
  const std::vector<std::string> args = {"graph", "g.yaml", "--format", "mermaid"};
  const RunResult run = RunEpos(args, dir.path());
  const std::string what = Describe(args, run);
  ASSERT_EQ(run.exit_code, 0) << what;
  EXPECT_TRUE(run.out.starts_with("flowchart LR\n")) << what;
  EXPECT_TRUE(Contains(run.out, R"~(n0["start (snippet)"])~")) << what;
  EXPECT_TRUE(Contains(run.out, R"~(n0 -->|"when: payload #gt; 3"| n1)~")) << what;
  EXPECT_TRUE(Contains(run.out, "n0 --> n2\n")) << what;
  EXPECT_TRUE(Contains(run.out, R"~(n0 -.->|"error"| n2)~")) << what;
}

TEST(CliGraph, UnknownNamespaceSuggestsTheNearest) {
  TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  WriteFileAtomically(dir.path() / "g.yaml", "- {kind: nop, name: a, namespace: orders}\n");
  const std::vector<std::string> args = {"graph", "g.yaml", "--namespace", "order"};
  const RunResult run = RunEpos(args, dir.path());
  EXPECT_EQ(run.exit_code, 2) << Describe(args, run);
  EXPECT_EQ(run.out, "") << Describe(args, run);
  EXPECT_TRUE(Contains(run.err, "no specs in namespace \"order\"; did you mean \"orders\"?"))
      << Describe(args, run);
}

TEST(CliGraph, UnknownFormatIsRejected) {
  TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  WriteFileAtomically(dir.path() / "g.yaml", kGuardedSpec);
  const std::vector<std::string> args = {"graph", "g.yaml", "--format", "svg"};
  const RunResult run = RunEpos(args, dir.path());
  EXPECT_EQ(run.exit_code, 2) << Describe(args, run);
  EXPECT_TRUE(Contains(run.err, "--format")) << Describe(args, run);
}

// ---------------------------------------------------------------------------------------
// --help and the global options

struct HelpCase {
  std::vector<std::string> args;
  std::vector<std::string> mentions;
};

TEST(CliHelp, EveryCommandHasHelp) {
  const std::vector<HelpCase> cases = {
      {{"--help"},
       {"run", "call", "validate", "graph", "bench", "--log-level", "--log-format", "--plugin",
        "Exit codes"}},
      {{"run", "--help"},
       {"files", "--values", "--env", "--watch", "--watch-interval", "--drain", "--workers",
        "SIGTERM"}},
      {{"call", "--help"},
       {"--node", "--port", "--payload", "--namespace", "--timeout", "--hop-budget"}},
      {{"validate", "--help"}, {"files", "--values", "--env"}},
      {{"graph", "--help"}, {"--namespace", "--format", "dot", "mermaid"}},
      {{"bench", "--help"}, {"engine", "compile"}},
      {{"bench", "engine", "--help"}, {"--topology", "--nodes", "--pulses", "--workers"}},
  };
  for (const HelpCase& c : cases) {
    const RunResult run = RunEpos(c.args);
    const std::string what = Describe(c.args, run);
    EXPECT_EQ(run.exit_code, 0) << what;
    EXPECT_EQ(run.err, "") << what;
    for (const std::string& word : c.mentions) {
      EXPECT_TRUE(Contains(run.out, word)) << "help lacks \"" << word << "\"\n" << what;
    }
  }
}

TEST(CliOptions, NoCommandIsAnError) {
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{}, std::vector<std::string>{"--log-level", "warn"}}) {
    const RunResult run = RunEpos(args);
    EXPECT_EQ(run.exit_code, 2) << Describe(args, run);
    EXPECT_EQ(run.out, "") << Describe(args, run);
    EXPECT_TRUE(Contains(run.err, "epos: a command is required\n")) << Describe(args, run);
    EXPECT_TRUE(Contains(run.err, "Commands: run, call, validate, graph, bench\n"))
        << Describe(args, run);
  }
  const std::vector<std::string> args = {"bench"};
  const RunResult run = RunEpos(args);
  EXPECT_EQ(run.exit_code, 2) << Describe(args, run);
  EXPECT_TRUE(Contains(run.err, "epos bench: a command is required\nCommands: engine, compile\n"))
      << Describe(args, run);
}

// A word where a command belongs is named, with the nearest command when one is close.
TEST(CliOptions, UnknownCommandIsNamedWithTheNearest) {
  const std::vector<ArgumentError> cases = {
      {{"frobnicate"}, "epos: unknown command \"frobnicate\"\n"},
      {{"rnu"}, "epos: unknown command \"rnu\"; did you mean \"run\"?\n"},
      {{"--log-level", "warn", "grpah", "x.yaml"},
       "epos: unknown command \"grpah\"; did you mean \"graph\"?\n"},
      {{"bench", "engin"}, "epos bench: unknown command \"engin\"; did you mean \"engine\"?\n"},
  };
  for (const ArgumentError& c : cases) {
    const RunResult run = RunEpos(c.extra);
    const std::string what = Describe(c.extra, run);
    EXPECT_EQ(run.exit_code, 2) << what;
    EXPECT_EQ(run.out, "") << what;
    EXPECT_TRUE(Contains(run.err, c.message)) << "stderr lacks \"" << c.message << "\"\n" << what;
    EXPECT_TRUE(Contains(run.err, "Commands: ")) << what;
    EXPECT_FALSE(Contains(run.err, "subcommand")) << what;
  }
}

TEST(CliOptions, JsonLogLinesAreObjects) {
  TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  WriteFileAtomically(dir.path() / "greet.yaml", kGreetSpec);
  RunningEpos epos({"--log-format", "json", "run", "greet.yaml", "--workers", "1"}, dir.path());
  ASSERT_TRUE(epos.started()) << epos.child().failure();
  ASSERT_FALSE(epos.ExpectLine("running; press Ctrl-C to stop").empty());
  epos.child().Signal(SIGTERM);
  ASSERT_EQ(epos.child().Wait(kRunTimeLimit), 0) << epos.What();

  std::vector<std::string> messages;
  std::string_view err = epos.child().err();
  while (!err.empty()) {
    const std::size_t end = err.find('\n');
    ASSERT_NE(end, std::string_view::npos) << "unterminated line\n" << epos.What();
    const std::string_view line = err.substr(0, end);
    err.remove_prefix(end + 1);
    Result<Value> parsed = ParseJson(line);
    ASSERT_TRUE(parsed.has_value()) << "not JSON: " << line << "\n" << epos.What();
    ASSERT_TRUE(parsed->IsMap()) << line;
    const Value* time = parsed->Find("time");
    const Value* level = parsed->Find("level");
    const Value* msg = parsed->Find("msg");
    ASSERT_TRUE(time != nullptr && time->IsString() && time->AsString().size() >= 19) << line;
    ASSERT_TRUE(level != nullptr && level->IsString() && level->AsString() == "info") << line;
    ASSERT_TRUE(msg != nullptr && msg->IsString()) << line;
    messages.emplace_back(msg->AsString());
  }
  ASSERT_GE(messages.size(), 3u) << epos.What();
  EXPECT_TRUE(messages.front().starts_with("namespace default: version 1 active")) << epos.What();
  EXPECT_TRUE(messages.back().starts_with("stopped: ")) << epos.What();
}

TEST(CliOptions, LogLevelFiltersAndBadLevelIsRejected) {
  TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  WriteFileAtomically(dir.path() / "greet.yaml", kGreetSpec);

  std::vector<std::string> args = {"--log-level", "loud", "validate", "greet.yaml"};
  RunResult run = RunEpos(args, dir.path());
  EXPECT_EQ(run.exit_code, 2) << Describe(args, run);
  EXPECT_TRUE(Contains(run.err, "--log-level")) << Describe(args, run);
  EXPECT_TRUE(Contains(run.err, "loud")) << Describe(args, run);
  EXPECT_EQ(run.out, "") << Describe(args, run);

  // Given after the subcommand too.
  args = {"validate", "greet.yaml", "--log-level", "warn"};
  run = RunEpos(args, dir.path());
  EXPECT_EQ(run.exit_code, 0) << Describe(args, run);

  args = {"validate", "greet.yaml", "--log-format", "xml"};
  run = RunEpos(args, dir.path());
  EXPECT_EQ(run.exit_code, 2) << Describe(args, run);
  EXPECT_TRUE(Contains(run.err, "--log-format")) << Describe(args, run);
}

// ---------------------------------------------------------------------------------------
// call: argument errors exit 2 with a message naming the argument

TEST(CliCall, ArgumentErrorsExitTwo) {
  TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  WriteFileAtomically(dir.path() / "greet.yaml", kGreetSpec);
  const std::vector<ArgumentError> cases = {
      {{"--node", "greet", "--payload", "{name: 1}"}, "epos call: --payload: invalid JSON"},
      {{"--node", "greet", "--timeout", "soon"}, "epos call: --timeout: bad duration \"soon\""},
      {{"--node", "greet", "--timeout", "-1s"}, "epos call: --timeout: bad duration \"-1s\""},
      {{"--node", "gret"},
       "epos call: node \"gret\" not found in namespace \"default\"; did you mean \"greet\"?"},
      {{"--node", "greet", "--namespace", "defualt"},
       "epos call: no specs in namespace \"defualt\"; did you mean \"default\"?"},
      {{"--node", "greet", "--port", "out"}, "epos call: --port: "},
      {{}, "--node is required"},
  };
  for (const ArgumentError& c : cases) {
    std::vector<std::string> args = {"call", "greet.yaml"};
    args.insert(args.end(), c.extra.begin(), c.extra.end());
    const RunResult run = RunEpos(args, dir.path());
    EXPECT_EQ(run.exit_code, 2) << Describe(args, run);
    EXPECT_EQ(run.out, "") << Describe(args, run);
    EXPECT_TRUE(Contains(run.err, c.message)) << "stderr lacks \"" << c.message << "\"\n"
                                              << Describe(args, run);
  }
}

TEST(CliCall, RepliesWithTheResult) {
  TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  WriteFileAtomically(dir.path() / "greet.yaml", kGreetSpec);
  const std::vector<std::string> args = {"call",  "greet.yaml", "--node",
                                         "greet", "--payload",  "\"world\""};
  const RunResult run = RunEpos(args, dir.path());
  EXPECT_EQ(run.exit_code, 0) << Describe(args, run);
  EXPECT_EQ(run.out, "\"hello world\"\n") << Describe(args, run);
}

}  // namespace
}  // namespace epos
