// Launchers' rank labels on printed lines (rank_prefix.h).
#include "ingest/rank_prefix.h"

#include "ingest/number_scan.h"  // IsDigit

namespace inloop::ingest {
namespace {

bool IsLetter(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }

// Digits at `line[i..]` (1 to 7 of them) as a rank; advances *i.
std::optional<int> Digits(std::string_view line, size_t* i) {
  size_t start = *i;
  int v = 0;
  while (*i < line.size() && IsDigit(line[*i]) && *i - start < 7) v = v * 10 + (line[(*i)++] - '0');
  if (*i == start || (*i < line.size() && IsDigit(line[*i]))) return std::nullopt;
  return v;
}

RankedLine Rest(std::string_view line, size_t i, int rank) {
  if (i < line.size() && line[i] == ' ') ++i;
  return RankedLine{rank, line.substr(i)};
}

}  // namespace

RankedLine SplitRankPrefix(std::string_view line, bool srun_labels) {
  if (!line.empty() && line[0] == '[') {
    size_t i = 1;
    while (i < line.size() && i < 32 && IsLetter(line[i])) ++i;
    if (i > 1) {
      std::optional<int> rank = Digits(line, &i);
      if (rank && i + 1 < line.size() && line[i] == ']' && line[i + 1] == ':') {
        return Rest(line, i + 2, *rank);
      }
    }
  }
  if (srun_labels) {
    size_t i = 0;
    while (i < line.size() && line[i] == ' ') ++i;  // srun right-aligns the labels
    std::optional<int> rank = Digits(line, &i);
    if (rank && i < line.size() && line[i] == ':') return Rest(line, i + 1, *rank);
  }
  return RankedLine{std::nullopt, line};
}

}  // namespace inloop::ingest
