#pragma once
// Population based training (Jaderberg et al., "Population Based Training of Neural Networks", 2017),
// asynchronous, with truncation selection:
//
//   search::Pbt<Space> pbt({.seed = 1}, {.population = 8, .step_epochs = 1.0,
//                                        .explore = {"fc1.dropout_rate", "training.learning_rate"}});
//   run_study(pbt, objective, {.trials = 80, .workers = 2});   // 8 members x 10 steps
//
// A population of `population` members, each a config with its training. Each trial trains one
// member `step_epochs` further: its budget is the member's epochs so far plus a step, and it continues
// the member's last trial (Trial::resume_from: the study hands the objective that trial's saved state).
// When a member is ready for its next step and its last score is in the bottom `quantile` of the
// members' last scores, it is replaced by a copy of a member drawn from the top `quantile` (its
// training state and config: exploit), whose explored parameters are then perturbed (explore): each
// is resampled from the prior with probability `resample_probability`, else moved by +-`perturb` in
// the unit cube (a factor for a log-scaled parameter). Only the parameters named in `explore` change;
// for a LeNet, name the ones that leave the weights' shapes alone (dropout rates, learning rate, batch
// size): a state of another architecture does not load, and such a trial trains afresh.
//
// Choices the paper leaves open:
// - The first `population` asks draw the members from the prior; after that the idle member that has
//   trained least goes next. ask() never blocks: when every member is running (more workers than
//   members), a new member joins, drawn from the prior.
// - Scores: a failed, diverged or pruned trial scores worst and, having no state to continue, its
//   member is always replaced at its next step (from scratch when no member has a state yet).
// - The lineage of a member (the trials it continued, and their configs) is its hyperparameter
//   schedule; `mahpo-report` draws the schedule of the best trial from the journal.

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <optional>
#include <random>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <boost/hana/at.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <mahpo/objective.hpp>
#include <mahpo/search/history.hpp>
#include <mahpo/search/searcher.hpp>
#include <mahpo/space/space.hpp>

namespace mahpo::search {

struct PbtOptions {
  std::size_t population = 8;        // members; at least 2
  double step_epochs = 1.0;          // epochs each trial adds to its member's training
  double quantile = 0.25;            // the bottom quantile copies the top quantile; in (0, 0.5]
  double perturb = 0.05;             // an explored coordinate moves by +- this in the unit cube
  double resample_probability = 0.25;
  // A member's training ends at this many epochs (0: never); at its next turn it starts again from a
  // config drawn from the prior, and no member copies one that cannot take another step.
  double max_epochs = 0.0;
  std::vector<std::string> explore;  // the parameters exploration changes; empty: every free one
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(PbtOptions, population, step_epochs, quantile, perturb, resample_probability,
                                   max_epochs, explore)

template <typename S>
class Pbt {
 public:
  using space_type = S;
  static constexpr std::string_view name = "pbt";

  explicit Pbt(SearchOptions options = {}, PbtOptions pbt = {})
      : options_(options), pbt_(validated(std::move(pbt))), history_(options.goal), rng_(options.seed) {}

  Trial<S> ask() {
    const std::size_t m = next_member();
    Member& member = members_[m];
    Config<S> config = member.config;
    std::optional<std::size_t> from;
    double epochs = 0.0;
    if (member.latest && !can_grow(m)) {
      config = S::sample(rng_);  // its training is complete: a new one starts
    } else if (member.latest) {
      const bool broken = !member.latest_ok;
      const auto source = broken || in_bottom(m) ? top_member(m) : std::optional<std::size_t>(m);
      if (source && members_[*source].latest && members_[*source].latest_ok) {
        const Member& strong = members_[*source];
        from = strong.latest;
        epochs = history_.entries()[*strong.latest].budget.epochs;
        config = *source == m ? strong.config : explore(strong.config);
        if (*source != m) ++exploits_;
      } else if (broken) {
        config = S::sample(rng_);  // nothing to continue: start again
      } else {
        from = member.latest;
        epochs = history_.entries()[*member.latest].budget.epochs;
      }
    }
    member.config = config;
    member.running = true;
    Trial<S> trial = history_.add(std::move(config), Budget{.epochs = epochs + pbt_.step_epochs});
    trial.resume_from = from;
    member_of_.push_back(m);
    resume_from_.push_back(from);
    return trial;
  }

  void tell(std::size_t id, const Result& result) {
    const auto& entry = history_.tell(id, result, name);
    Member& member = members_[member_of_[id]];
    member.running = false;
    member.latest = id;
    member.latest_ok = entry.result.status == Status::ok && std::isfinite(entry.loss);
    member.loss = member.latest_ok ? entry.loss : std::numeric_limits<double>::infinity();
    member.steps_done += 1;
    if (member.latest_ok) held_.insert(id);
  }

  void replace(std::size_t id, const Config<S>& config) {
    history_.replace(id, config, name);
    members_[member_of_[id]].config = config;
  }

  // Which saved states no member will continue any more (search::ContinuesTrials).
  bool continues_trials() const { return true; }
  std::vector<std::size_t> drop_states() {
    std::set<std::size_t> needed;
    for (const auto& member : members_)
      if (member.latest) needed.insert(*member.latest);
    for (std::size_t id = 0; id < resume_from_.size(); ++id) {
      if (resume_from_[id] && !history_.entries()[id].finished) needed.insert(*resume_from_[id]);
    }
    std::vector<std::size_t> dropped;
    for (auto it = held_.begin(); it != held_.end();) {
      if (needed.contains(*it)) {
        ++it;
      } else {
        dropped.push_back(*it);
        it = held_.erase(it);
      }
    }
    return dropped;
  }

  const SearchOptions& options() const { return options_; }
  const PbtOptions& pbt_options() const { return pbt_; }
  nlohmann::json options_json() const { return pbt_; }
  const History<S>& history() const { return history_; }
  std::size_t population() const { return members_.size(); }
  std::size_t member_of(std::size_t id) const { return member_of_.at(id); }
  std::size_t exploits() const { return exploits_; }

 private:
  struct Member {
    Config<S> config;
    std::optional<std::size_t> latest;  // its last told trial
    bool latest_ok = false;
    bool running = false;
    double loss = std::numeric_limits<double>::infinity();
    std::size_t steps_done = 0;
  };

  PbtOptions validated(PbtOptions pbt) const {
    const auto fail = [](const std::string& message) { throw std::invalid_argument("mahpo::pbt: " + message); };
    if (pbt.population < 2) fail(fmt::format("the population ({}) must be at least 2", pbt.population));
    if (!(pbt.step_epochs > 0.0) || !std::isfinite(pbt.step_epochs)) {
      fail(fmt::format("step_epochs ({}) must be a finite number above 0", pbt.step_epochs));
    }
    if (!(pbt.quantile > 0.0 && pbt.quantile <= 0.5)) fail(fmt::format("quantile ({}) must be in (0, 0.5]", pbt.quantile));
    if (!(pbt.perturb >= 0.0 && pbt.perturb <= 1.0)) fail(fmt::format("perturb ({}) must be in [0, 1]", pbt.perturb));
    if (!(pbt.max_epochs >= 0.0) || !std::isfinite(pbt.max_epochs)) {
      fail(fmt::format("max_epochs ({}) must be a finite number >= 0", pbt.max_epochs));
    }
    if (!(pbt.resample_probability >= 0.0 && pbt.resample_probability <= 1.0)) {
      fail(fmt::format("resample_probability ({}) must be in [0, 1]", pbt.resample_probability));
    }
    for (const auto& parameter : pbt.explore) {
      if (!S::has_name(parameter)) fail(fmt::format("explore names '{}', which the space does not have", parameter));
    }
    return pbt;
  }

  // The member that goes next: a new one while the population fills (or when every member runs),
  // else the idle member that has trained least (the oldest first).
  std::size_t next_member() {
    if (members_.size() < pbt_.population || std::all_of(members_.begin(), members_.end(), [](const Member& m) {
          return m.running;
        })) {
      members_.push_back(Member{.config = S::sample(rng_)});
      return members_.size() - 1;
    }
    std::size_t chosen = members_.size();
    for (std::size_t m = 0; m < members_.size(); ++m) {
      if (members_[m].running) continue;
      if (chosen == members_.size() || members_[m].steps_done < members_[chosen].steps_done) chosen = m;
    }
    return chosen;
  }

  // The members ranked by their last loss (scored members only), best first.
  std::vector<std::size_t> ranked() const {
    std::vector<std::size_t> order;
    for (std::size_t m = 0; m < members_.size(); ++m)
      if (members_[m].latest) order.push_back(m);
    std::stable_sort(order.begin(), order.end(),
                     [&](std::size_t a, std::size_t b) { return members_[a].loss < members_[b].loss; });
    return order;
  }

  // Whether member m's training may take another step (max_epochs).
  bool can_grow(std::size_t m) const {
    if (pbt_.max_epochs <= 0.0 || !members_[m].latest) return true;
    return history_.entries()[*members_[m].latest].budget.epochs + pbt_.step_epochs <= pbt_.max_epochs + 1e-9;
  }

  std::size_t cut(std::size_t scored) const {
    return std::max<std::size_t>(1, static_cast<std::size_t>(std::floor(pbt_.quantile * static_cast<double>(scored))));
  }

  bool in_bottom(std::size_t m) const {
    const auto order = ranked();
    if (order.size() < 2) return false;
    const auto position = static_cast<std::size_t>(std::find(order.begin(), order.end(), m) - order.begin());
    return position >= order.size() - cut(order.size());
  }

  // A member of the top quantile with a state to copy, drawn uniformly; none when there is none.
  std::optional<std::size_t> top_member(std::size_t m) {
    const auto order = ranked();
    std::vector<std::size_t> top;
    for (std::size_t k = 0; k < std::min(cut(order.size()), order.size()); ++k) {
      if (order[k] != m && members_[order[k]].latest_ok && can_grow(order[k])) top.push_back(order[k]);
    }
    if (top.empty()) return std::nullopt;
    return top[std::uniform_int_distribution<std::size_t>(0, top.size() - 1)(rng_)];
  }

  // The strong member's config with its explored coordinates resampled or moved.
  Config<S> explore(const Config<S>& strong) {
    auto point = S::to_unit_cube(strong);
    std::uniform_real_distribution<double> uniform(0.0, 1.0);
    S::for_each_parameter([&](auto index, auto type) {
      using P = typename decltype(type)::type;
      if constexpr (!P::is_fixed) {
        const std::size_t i = decltype(index)::value;
        if (!explored(S::names[i])) return;
        double& u = point[S::free_position(i)];
        if (uniform(rng_) < pbt_.resample_probability) {
          u = uniform(rng_);
        } else {
          u = std::clamp(u + (uniform(rng_) < 0.5 ? -pbt_.perturb : pbt_.perturb), 0.0, 1.0);
        }
      }
    });
    const Config<S> moved = S::from_unit_cube(point);
    // Parameters not explored keep their values exactly (the unit cube round trip may round them).
    auto values = strong.values();
    S::for_each_parameter([&](auto index, auto type) {
      using P = typename decltype(type)::type;
      if constexpr (!P::is_fixed) {
        if (explored(S::names[decltype(index)::value])) {
          boost::hana::at(values, index) = boost::hana::at(moved.values(), index);
        }
      }
    });
    return Config<S>(std::move(values));
  }

  bool explored(std::string_view parameter) const {
    return pbt_.explore.empty() || std::find(pbt_.explore.begin(), pbt_.explore.end(), parameter) != pbt_.explore.end();
  }

  SearchOptions options_;
  PbtOptions pbt_;
  History<S> history_;
  std::mt19937_64 rng_;
  std::vector<Member> members_;
  std::vector<std::size_t> member_of_;                      // by trial id
  std::vector<std::optional<std::size_t>> resume_from_;     // by trial id
  std::set<std::size_t> held_;                              // trials whose states may still be needed
  std::size_t exploits_ = 0;
};

// Pbt of a topology or anything else that is not a Space: one readable error (NotASpace).
template <typename S>
  requires(!SearchSpace<S>)
class Pbt<S> : public NotASpace<S> {
 public:
  using NotASpace<S>::NotASpace;
};

}  // namespace mahpo::search
