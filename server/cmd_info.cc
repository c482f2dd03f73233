// Placeholder until the family lands.
#include "server/command.h"

namespace docket::server {

void RegisterInfoCommands(CommandTable& table) { (void)table; }

}  // namespace docket::server
