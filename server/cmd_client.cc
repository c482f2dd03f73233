// Placeholder until the family lands.
#include "server/command.h"

namespace docket::server {

void RegisterClientCommands(CommandTable& table) { (void)table; }

}  // namespace docket::server
