// A subcommand of the growhook binary besides `serve`: registered on the
// CLI11 app by its add_*_command function (its flags, their environment
// variables, its help), and run by main when it was the one parsed.
#pragma once

#include <functional>

namespace CLI {
class App;
}

namespace growhook::cli {

struct Command {
  CLI::App* app = nullptr;   // the subcommand; owned by the parent app
  std::function<int()> run;  // the exit code of the process
};

}  // namespace growhook::cli
