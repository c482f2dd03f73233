// Placeholder until the family lands.
#include "server/command.h"

namespace docket::server {

void RegisterStringCommands(CommandTable& table) { (void)table; }

}  // namespace docket::server
