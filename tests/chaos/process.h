#pragma once
// Child processes for the fault campaign: paymentctl commands run to completion, and paymentd
// started, killed with SIGKILL and restarted. Arguments are prepared before fork(): the child
// only redirects its output and calls execv.

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>
#include <vector>

namespace pay::chaos {

struct Child {
  pid_t pid = -1;
  int out = -1;  // the child's stdout (read end), or -1
};

// Starts `args` (args[0] is a path) with stdout to a pipe and stderr appended to `log_path`;
// `env` ("NAME=value") is added to this process's environment for the child.
inline Child Spawn(const std::vector<std::string>& args, const std::string& log_path,
                   const std::vector<std::string>& env = {}) {
  std::vector<char*> argv;
  for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  std::vector<char*> envp;
  for (const std::string& e : env) envp.push_back(const_cast<char*>(e.c_str()));
  for (char** e = environ; *e != nullptr; ++e) envp.push_back(*e);
  envp.push_back(nullptr);
  int p[2];
  if (pipe2(p, O_CLOEXEC) != 0) return {};
  const int log = open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  const pid_t pid = fork();
  if (pid == 0) {
    dup2(p[1], 1);
    if (log >= 0) dup2(log, 2);
    execve(argv[0], argv.data(), envp.data());
    _exit(127);
  }
  close(p[1]);
  if (log >= 0) close(log);
  if (pid < 0) {
    close(p[0]);
    return {};
  }
  return {pid, p[0]};
}

// One line of the child's stdout (without the newline); empty at end of file.
inline std::string ReadLine(int fd) {
  std::string line;
  char c;
  while (read(fd, &c, 1) == 1 && c != '\n') line.push_back(c);
  return line;
}

// Runs `args` to completion: its exit status (-1 if it did not exit normally) and stdout.
inline int Run(const std::vector<std::string>& args, const std::string& log_path,
               std::string* out = nullptr) {
  Child c = Spawn(args, log_path);
  if (c.pid < 0) return -1;
  std::string text;
  char buf[4096];
  ssize_t n;
  while ((n = read(c.out, buf, sizeof buf)) > 0) text.append(buf, static_cast<size_t>(n));
  close(c.out);
  int status = 0;
  waitpid(c.pid, &status, 0);
  if (out != nullptr) *out = text;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

}  // namespace pay::chaos
