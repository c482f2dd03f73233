// Placeholder until the family lands.
#include "server/command.h"

namespace docket::server {

void RegisterServerCommands(CommandTable& table) { (void)table; }

}  // namespace docket::server
