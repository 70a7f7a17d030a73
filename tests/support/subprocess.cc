#include "support/subprocess.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace epos::testing_util {

Subprocess::~Subprocess() {
  if (pid_ > 0) {
    kill(pid_, SIGKILL);
    int status = 0;
    waitpid(pid_, &status, 0);
  }
  CloseFds();
}

bool Subprocess::Start(const std::vector<std::string>& args, const std::filesystem::path& cwd) {
  std::vector<std::string> owned = args;
  std::vector<char*> argv;
  for (std::string& a : owned) argv.push_back(a.data());
  argv.push_back(nullptr);
  const std::string dir = cwd.string();

  int out_pipe[2] = {-1, -1};
  int err_pipe[2] = {-1, -1};
  if (pipe2(out_pipe, O_CLOEXEC) != 0 || pipe2(err_pipe, O_CLOEXEC) != 0) {
    failure_ = std::string("pipe: ") + std::strerror(errno);
    for (int fd : {out_pipe[0], out_pipe[1], err_pipe[0], err_pipe[1]}) {
      if (fd >= 0) close(fd);
    }
    return false;
  }
  const pid_t pid = fork();
  if (pid < 0) {
    failure_ = std::string("fork: ") + std::strerror(errno);
    for (int fd : {out_pipe[0], out_pipe[1], err_pipe[0], err_pipe[1]}) close(fd);
    return false;
  }
  if (pid == 0) {  // child: only async-signal-safe calls until exec
    dup2(out_pipe[1], STDOUT_FILENO);
    dup2(err_pipe[1], STDERR_FILENO);
    int null_in = open("/dev/null", O_RDONLY);
    if (null_in >= 0) dup2(null_in, STDIN_FILENO);
    if (chdir(dir.c_str()) != 0) _exit(126);
    execv(argv[0], argv.data());
    _exit(127);
  }
  close(out_pipe[1]);
  close(err_pipe[1]);
  pid_ = pid;
  out_fd_ = out_pipe[0];
  err_fd_ = err_pipe[0];
  return true;
}

bool Subprocess::Pump(std::chrono::steady_clock::time_point deadline) {
  if (out_fd_ < 0 && err_fd_ < 0) return false;
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - std::chrono::steady_clock::now());
  if (left.count() <= 0) return false;
  pollfd fds[2] = {{out_fd_, POLLIN, 0}, {err_fd_, POLLIN, 0}};  // poll skips fd -1
  const int ready = poll(fds, 2, static_cast<int>(left.count()));
  if (ready < 0) return errno == EINTR;
  int* owned_fds[2] = {&out_fd_, &err_fd_};
  std::string* sinks[2] = {&out_, &err_};
  for (int i = 0; i < 2; ++i) {
    if (fds[i].fd < 0 || fds[i].revents == 0) continue;
    char buffer[4096];
    const ssize_t n = read(fds[i].fd, buffer, sizeof buffer);
    if (n > 0) {
      sinks[i]->append(buffer, static_cast<std::size_t>(n));
    } else if (n == 0 || errno != EINTR) {
      close(fds[i].fd);
      *owned_fds[i] = -1;
    }
  }
  return true;
}

void Subprocess::CloseFds() {
  for (int* fd : {&out_fd_, &err_fd_}) {
    if (*fd >= 0) close(*fd);
    *fd = -1;
  }
}

std::optional<std::string> Subprocess::WaitForStderrLine(std::string_view needle,
                                                         std::chrono::milliseconds time_limit) {
  const auto deadline = std::chrono::steady_clock::now() + time_limit;
  while (true) {
    for (std::size_t end; (end = err_.find('\n', err_scanned_)) != std::string::npos;) {
      std::string line = err_.substr(err_scanned_, end - err_scanned_);
      err_scanned_ = end + 1;
      if (line.find(needle) != std::string::npos) return line;
    }
    if (err_fd_ < 0 || !Pump(deadline)) return std::nullopt;
  }
}

void Subprocess::Signal(int signal) {
  if (pid_ > 0) kill(pid_, signal);
}

std::optional<int> Subprocess::Wait(std::chrono::milliseconds time_limit) {
  if (pid_ <= 0) return std::nullopt;
  const auto deadline = std::chrono::steady_clock::now() + time_limit;
  while (Pump(deadline)) {
  }
  int status = 0;
  if (out_fd_ >= 0 || err_fd_ >= 0) {  // the deadline passed with the pipes still open
    timed_out_ = true;
    kill(pid_, SIGKILL);
    CloseFds();
    waitpid(pid_, &status, 0);
    pid_ = -1;
    return std::nullopt;
  }
  // Both pipes closed: the child is exiting (or closed them itself); give it the rest of
  // the time limit.
  while (true) {
    const pid_t done = waitpid(pid_, &status, WNOHANG);
    if (done == pid_) break;
    if (done < 0 && errno != EINTR) break;
    if (std::chrono::steady_clock::now() > deadline) {
      timed_out_ = true;
      kill(pid_, SIGKILL);
      waitpid(pid_, &status, 0);
      pid_ = -1;
      return std::nullopt;
    }
    usleep(1000);
  }
  pid_ = -1;
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  return std::nullopt;
}

RunResult RunProcess(const std::vector<std::string>& argv, const std::filesystem::path& cwd,
                     std::chrono::milliseconds time_limit) {
  RunResult result;
  Subprocess child;
  if (!child.Start(argv, cwd)) {
    result.failure = child.failure();
    return result;
  }
  const std::optional<int> code = child.Wait(time_limit);
  result.exit_code = code.value_or(-1);
  result.timed_out = child.timed_out();
  result.out = child.out();
  result.err = child.err();
  return result;
}

}  // namespace epos::testing_util
