// `epos run`: compile the workflows, activate them and serve until SIGINT/SIGTERM; with
// --watch, recompile changed files and swap the new versions in.
#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <csignal>
#include <iostream>
#include <mutex>
#include <set>
#include <thread>

#include <spdlog/spdlog.h>

#include "cli.h"
#include "epos/core/text.h"
#include "epos/exec/namespaces.h"
#include "epos/exec/runtime.h"
#include "epos/nodes/http.h"

namespace epos::cli {
namespace {

struct RunOptions {
  WorkflowOptions workflows;
  bool watch = false;
  std::string poll = "250ms";
  std::string drain = "5s";
  unsigned workers = 0;
  int io_threads = 1;
};

// What identifies a file's contents cheaply: a change to any of these means "re-read".
struct FileStamp {
  bool exists = false;
  dev_t device = 0;
  ino_t inode = 0;
  off_t size = 0;
  std::int64_t mtime_ns = 0;
  friend bool operator==(const FileStamp&, const FileStamp&) = default;
};

FileStamp StampOf(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return {};
  return {true, st.st_dev, st.st_ino, st.st_size,
          std::int64_t{st.st_mtim.tv_sec} * 1'000'000'000 + st.st_mtim.tv_nsec};
}

std::vector<FileStamp> StampsOf(const WorkflowSources& sources) {
  std::vector<FileStamp> stamps;
  for (const std::string& f : sources.files) stamps.push_back(StampOf(f));
  for (const std::string& f : sources.values_files) stamps.push_back(StampOf(f));
  return stamps;
}

// Activates every compiled namespace, points the origins at the active versions, then logs
// what changed: "version N active" is written only once requests reach version N (tests and
// operators wait for that line). Returns the origins' errors (a listener that could not
// bind), logged.
std::vector<std::string> ActivateAll(NamespaceTable& table, HttpOrigins& origins,
                                     const CompileOutput& compiled) {
  std::vector<std::shared_ptr<const Graph>> replaced;  // in compiled.graphs order
  for (const auto& [name, graph] : compiled.graphs) replaced.push_back(table.Activate(graph));
  std::vector<std::shared_ptr<const Graph>> active;
  for (const std::string& name : table.names()) active.push_back(table.Find(name));
  std::vector<std::string> errors = origins.Apply(active);
  auto previous = replaced.begin();
  for (const auto& [name, graph] : compiled.graphs) {
    const std::shared_ptr<const Graph>& old = *previous++;
    spdlog::info("namespace {}: version {} active ({} nodes, {} connections){}", name,
                 graph->version(), graph->node_count(), graph->AllEdges().size(),
                 old ? " replacing version " + std::to_string(old->version()) : "");
  }
  for (const std::string& e : errors) spdlog::error("{}", e);
  return errors;
}

// Polls the files of `sources` every `interval` and recompiles on a change. A version that
// fails to compile is logged and not activated; the previous one keeps running.
class Watcher {
 public:
  Watcher(const WorkflowOptions& options, const Scheme& scheme, NamespaceTable& table,
          HttpOrigins& origins, std::chrono::nanoseconds interval)
      : options_(options), scheme_(scheme), table_(table), origins_(origins), interval_(interval) {
    stamps_ = StampsOf(options_.sources);
    thread_ = std::thread([this] { Loop(); });
  }
  ~Watcher() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }

 private:
  void Loop() {
    std::unique_lock<std::mutex> lock(mu_);
    while (!cv_.wait_for(lock, interval_, [this] { return stop_; })) {
      std::vector<FileStamp> now = StampsOf(options_.sources);
      if (now == stamps_) continue;
      stamps_ = std::move(now);
      Reload();
    }
  }

  void Reload() {
    // A version number is spent only when something is activated, so a namespace runs
    // versions 1, 2, 3... however many bad changes came in between.
    const std::uint64_t version = version_ + 1;
    Diagnostics diags;
    CompileOutput out = BuildWorkflows(options_.sources, scheme_, diags, version);
    diags.SortByPosition();
    for (const Diagnostic& d : diags.items()) spdlog::error("{}", d.ToString());
    // A file that does not load fails namespaces it cannot name: report every running
    // namespace the change leaves on its old version.
    std::set<std::string> not_applied = out.failed;
    if (!diags.empty()) {
      for (const std::string& name : table_.names()) {
        if (!out.graphs.contains(name)) not_applied.insert(name);
      }
    }
    for (const std::string& name : not_applied) {
      std::shared_ptr<const Graph> current = table_.Find(name);
      spdlog::error("namespace {}: change not applied ({} error{}); {}", name, diags.size(),
                    diags.size() == 1 ? "" : "s",
                    current ? "version " + std::to_string(current->version()) + " keeps running"
                            : std::string("not running"));
    }
    if (out.graphs.empty()) return;
    version_ = version;
    // The origins' errors are logged inside; the previous listeners keep serving.
    (void)ActivateAll(table_, origins_, out);
  }

  const WorkflowOptions& options_;
  const Scheme& scheme_;
  NamespaceTable& table_;
  HttpOrigins& origins_;
  std::chrono::nanoseconds interval_;
  std::vector<FileStamp> stamps_;
  std::uint64_t version_ = 1;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;
};

int Run(const GlobalOptions& global, const RunOptions& o) {
  auto poll = ParseDuration(o.poll);
  if (!poll) {
    std::cerr << "epos run: --watch-interval: " << poll.error().message << "\n";
    return kExitBadSpecs;
  }
  if (poll->count() == 0) {
    std::cerr << "epos run: --watch-interval: must be more than 0s\n";
    return kExitBadSpecs;
  }
  auto drain = ParseDuration(o.drain);
  if (!drain) {
    std::cerr << "epos run: --drain: " << drain.error().message << "\n";
    return kExitBadSpecs;
  }
  // Block the stop signals in every thread (threads inherit the mask); the main thread
  // takes them with sigwait.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  std::optional<LoadedWorkflows> loaded = LoadWorkflows(global, o.workflows, "run");
  if (!loaded) return kExitBadSpecs;

  RuntimeOptions runtime_options;
  runtime_options.workers = o.workers;
  // Slots for the listeners' I/O threads to run their traces on (HttpOrigins): enough for
  // a few listeners; the I/O threads of any more hand their traces to the workers.
  runtime_options.attachable = static_cast<unsigned>(o.io_threads) * 4;
  Runtime runtime(runtime_options);
  runtime.Start();
  NamespaceTable table;
  HttpOrigins origins(runtime,
                      {.io_threads = o.io_threads,
                       .drain = std::chrono::duration_cast<std::chrono::milliseconds>(*drain)});
  if (!ActivateAll(table, origins, loaded->compiled).empty()) {
    // A listener that cannot serve at start is fatal, as for any server; after a reload
    // the error is logged and everything else keeps running.
    origins.Stop(std::chrono::milliseconds(0));
    runtime.Stop(std::chrono::nanoseconds(0));
    return kExitServeFailed;
  }
  std::optional<Watcher> watcher;
  if (o.watch) {
    watcher.emplace(o.workflows, *loaded->scheme, table, origins, *poll);
    spdlog::info("watching {} files for changes",
                 o.workflows.sources.files.size() + o.workflows.sources.values_files.size());
  }
  spdlog::info("running; press Ctrl-C to stop");

  int signal = 0;
  sigwait(&signals, &signal);
  spdlog::info("{} received: stopping (draining traces for up to {})",
               signal == SIGINT ? "SIGINT" : "SIGTERM", FormatDuration(*drain));
  watcher.reset();
  // Listeners first: they stop accepting and answer what is in flight while the runtime
  // still runs; then the runtime drains whatever else is left. One deadline for both.
  const auto deadline = std::chrono::steady_clock::now() + *drain;
  origins.Stop(std::chrono::duration_cast<std::chrono::milliseconds>(*drain));
  StopReport report = runtime.Stop(std::max<std::chrono::nanoseconds>(
      deadline - std::chrono::steady_clock::now(), std::chrono::nanoseconds(0)));
  if (report.abandoned_any()) {
    spdlog::warn(
        "stopped past the drain deadline: {} traces drained, {} failed with \"runtime "
        "stopped\", {} operations cancelled, {} blocking jobs dropped and {} left running, {} "
        "traces stuck",
        report.drained, report.aborted, report.cancelled_ops, report.blocking_cancelled,
        report.blocking_abandoned, report.stuck);
  } else {
    spdlog::info("stopped: {} traces drained, {} aborted", report.drained, report.aborted);
  }
  return kExitOk;
}

}  // namespace

void AddRunCommand(CLI::App& app, const GlobalOptions& global, int& exit_code) {
  auto o = std::make_shared<RunOptions>();
  CLI::App* run = app.add_subcommand(
      "run",
      "Compile and run workflows, serving their HTTP listeners, until SIGINT or SIGTERM; then "
      "stop accepting, answer what is in flight and exit 0. Exit 2 when the specs do not "
      "compile, 1 when a listener cannot start.");
  AddWorkflowOptions(*run, o->workflows);
  run->add_flag("--watch", o->watch,
                "Recompile changed files and swap the new version in; a bad change is logged and "
                "the previous version keeps running");
  run->add_option("--watch-interval", o->poll, "How often --watch checks the files")
      ->capture_default_str();
  run->add_option("--drain", o->drain, "On stop, how long traces in flight may take to finish")
      ->capture_default_str();
  run->add_option("--workers", o->workers, "Worker threads (0: one per core)")
      ->check(CLI::Range(0u, 1024u))
      ->capture_default_str();
  run->add_option("--io-threads", o->io_threads, "I/O threads per HTTP listener")
      ->check(CLI::Range(1, 64))
      ->capture_default_str();
  run->callback([&global, &exit_code, o] { exit_code = Run(global, *o); });
}

}  // namespace epos::cli
