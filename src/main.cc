// The inloop binary: nothing but a call into cli/. All behaviour lives in the library.
#include "cli/cli.h"

int main(int argc, char** argv) { return inloop::cli::Main(argc, argv); }
