// Running a program from a test: fork/exec with no shell, stdout and stderr captured through
// pipes, every wait bounded by a time limit (a hung child fails the test instead of hanging
// it), and the child killed if the test ends first.
//
// Two ways to use it:
//  - RunProcess: run to completion, like the shell's `cd DIR && PROG ARGS 2>err >out`.
//  - Subprocess: a long-running child (`epos run`) the test talks to: wait until a line
//    appears on its stderr, send it a signal, then wait for its exit.
//
// Thread-safety: a Subprocess belongs to the thread that started it.
#ifndef EPOS_TESTS_SUPPORT_SUBPROCESS_H_
#define EPOS_TESTS_SUPPORT_SUBPROCESS_H_

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace epos::testing_util {

struct RunResult {
  int exit_code = -1;  // -1: killed, ended by a signal, or did not exit normally
  bool timed_out = false;
  std::string out;
  std::string err;
  std::string failure;  // set when the child could not be started
};

// Runs `argv` (argv[0] a path to the program) in `cwd` with stdin on /dev/null, capturing
// stdout and stderr. The child is killed (SIGKILL) after `time_limit`, and then
// `timed_out` is set.
RunResult RunProcess(const std::vector<std::string>& argv, const std::filesystem::path& cwd,
                     std::chrono::milliseconds time_limit);

// A child process with its stdout and stderr read by the test. The destructor kills a
// child that is still running and reaps it.
class Subprocess {
 public:
  Subprocess() = default;
  Subprocess(const Subprocess&) = delete;
  Subprocess& operator=(const Subprocess&) = delete;
  ~Subprocess();

  // Starts `argv` in `cwd` (stdin on /dev/null). Returns false, with failure() set, when
  // the pipes or the fork fail; a program that cannot be executed exits 127.
  bool Start(const std::vector<std::string>& argv, const std::filesystem::path& cwd);

  // Reads the child's output until a complete stderr line that contains `needle` arrives
  // after the previous match, and returns that line (without its newline). nullopt when
  // `time_limit` passes, or the child closes stderr, first. Matches are consumed in order:
  // the next call only looks at the lines after this one.
  std::optional<std::string> WaitForStderrLine(std::string_view needle,
                                               std::chrono::milliseconds time_limit);

  // Sends `signal` to the child (no-op once it has been reaped).
  void Signal(int signal);

  // Reads the output to its end and reaps the child. Returns its exit code, or nullopt when
  // it did not exit normally (a signal), or `time_limit` passed: then the child is killed
  // and timed_out() is set.
  std::optional<int> Wait(std::chrono::milliseconds time_limit);

  const std::string& out() const { return out_; }
  const std::string& err() const { return err_; }
  const std::string& failure() const { return failure_; }
  bool timed_out() const { return timed_out_; }

 private:
  // Reads whatever is available on the pipes, waiting at most until `deadline`. Returns
  // false when nothing is left to read (both pipes closed) or the deadline passed.
  bool Pump(std::chrono::steady_clock::time_point deadline);
  void CloseFds();

  pid_t pid_ = -1;
  int out_fd_ = -1;
  int err_fd_ = -1;
  std::string out_;
  std::string err_;
  std::size_t err_scanned_ = 0;  // stderr bytes before this offset were matched or skipped
  std::string failure_;
  bool timed_out_ = false;
};

}  // namespace epos::testing_util

#endif  // EPOS_TESTS_SUPPORT_SUBPROCESS_H_
