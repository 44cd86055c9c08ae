// Which events a timeline shows (report/timeline_filter.h): data_batches hidden and counted by
// default, --kind selects, --all shows everything, and the count line's wording.
#include "report/timeline_filter.h"

#include <gtest/gtest.h>

namespace inloop::report {
namespace {

std::vector<store::EventRecord> Events(const std::vector<std::string>& kinds) {
  std::vector<store::EventRecord> out;
  int64_t id = 0;
  for (const auto& k : kinds) {
    store::EventRecord e;
    e.id = ++id;
    e.kind = k;
    out.push_back(e);
  }
  return out;
}

std::vector<std::string> Kinds(const FilteredTimeline& t) {
  std::vector<std::string> out;
  for (const auto& e : t.shown) out.push_back(e.kind);
  return out;
}

const std::vector<std::string> kRun = {"run_start", "data_batches", "data_batches", "loss_spike",
                                       "data_batches", "action_applied", "run_end"};

TEST(TimelineFilterTest, HidesAndCountsTheDataIndexByDefault) {
  FilteredTimeline t = FilterTimeline(Events(kRun), {});
  EXPECT_EQ(Kinds(t), (std::vector<std::string>{"run_start", "loss_spike", "action_applied", "run_end"}));
  ASSERT_EQ(t.hidden.size(), 1u);
  EXPECT_EQ(t.hidden.at("data_batches"), 3);
  EXPECT_EQ(t.shown[1].id, 4);  // the original records, in order
  EXPECT_EQ(HiddenEventsLine(t.hidden),
            "(3 data_batches events hidden; --kind data_batches or --all to show)");
}

TEST(TimelineFilterTest, KindsSelectAndAllShowsEverything) {
  TimelineFilter only;
  only.kinds = {"data_batches", "loss_spike"};
  FilteredTimeline t = FilterTimeline(Events(kRun), only);
  EXPECT_EQ(Kinds(t), (std::vector<std::string>{"data_batches", "data_batches", "loss_spike", "data_batches"}));
  EXPECT_TRUE(t.hidden.empty());  // an explicit filter counts nothing as hidden

  TimelineFilter all;
  all.all = true;
  all.kinds = {"run_start"};  // --all wins
  t = FilterTimeline(Events(kRun), all);
  EXPECT_EQ(Kinds(t), kRun);
  EXPECT_TRUE(t.hidden.empty());
  EXPECT_EQ(HiddenEventsLine(t.hidden), "");
}

TEST(TimelineFilterTest, NothingToHide) {
  FilteredTimeline t = FilterTimeline(Events({"run_start", "run_end"}), {});
  EXPECT_EQ(t.shown.size(), 2u);
  EXPECT_TRUE(t.hidden.empty());
  EXPECT_EQ(HiddenEventsLine(t.hidden), "");
  EXPECT_TRUE(IsBookkeepingEvent("data_batches"));
  EXPECT_FALSE(IsBookkeepingEvent("loss_spike"));
}

TEST(TimelineFilterTest, CountLineGroupsThousands) {
  EXPECT_EQ(HiddenEventsLine({{"data_batches", 1}}),
            "(1 data_batches event hidden; --kind data_batches or --all to show)");
  EXPECT_EQ(HiddenEventsLine({{"data_batches", 1234}}),
            "(1,234 data_batches events hidden; --kind data_batches or --all to show)");
  EXPECT_EQ(HiddenEventsLine({{"data_batches", 1234567}}),
            "(1,234,567 data_batches events hidden; --kind data_batches or --all to show)");
  EXPECT_EQ(HiddenEventsLine({{"data_batches", 0}}), "");
}

}  // namespace
}  // namespace inloop::report
