#pragma once
// Hyperband's brackets (hyperband/brackets.hpp) whose new configs come from a sampler policy: what
// SuccessiveHalving and Hyperband share. They differ in their cycle of brackets; Hyperband also in
// its sampler (`Hyperband<S, RandomSampler>`, Li et al.; `Hyperband<S, GpSampler>`, Bertrand et al.).
//
// A sampler (the BracketSampler concept) is a small class, default-constructible, with
// - `suffix`: a FixedString appended to the searcher's name ("" for random draws, "_gp", ...), so
//   that journals tell the variants apart;
// - `template <typename S> Config<S> sample(const History<S>&, const Scheduler&, std::mt19937_64&)`:
//   the config of a bracket's next new trial, from the history so far (each trial's budget level is
//   `scheduler.level(id)`) and the searcher's random stream;
// - `nlohmann::json options_json() const`: its options (null when it has none).
// Promotions never ask the sampler: a promoted config continues its parent's.

#include <concepts>
#include <cstddef>
#include <limits>
#include <random>
#include <string_view>
#include <utility>

#include <nlohmann/json.hpp>

#include <mahpo/objective.hpp>
#include <mahpo/search/history.hpp>
#include <mahpo/search/hyperband/brackets.hpp>
#include <mahpo/search/searcher.hpp>
#include <mahpo/space/fixed_string.hpp>

namespace mahpo::search {

struct HyperbandOptions {
  double min_budget = 1.0 / 9.0;  // epochs of the first rung of the most aggressive bracket
  double max_budget = 1.0;        // epochs of every bracket's last rung
  double eta = 3.0;               // keep 1/eta of a rung, give it eta times the budget; at least 2
  // A promoted config continues its parent's training (Trial::resume_from; the budget counts from
  // the training's start); false: it trains from scratch, as HpBandSter does.
  bool resume = true;
};
// As JSON (journal headers): "resume" is written only when true, so that the journals of studies that
// trained every promotion from scratch (before promotions could continue) still resume with resume false.
inline void to_json(nlohmann::json& json, const HyperbandOptions& options) {
  json = {{"min_budget", options.min_budget}, {"max_budget", options.max_budget}, {"eta", options.eta}};
  if (options.resume) json["resume"] = true;
}

namespace hyperband {

// Hyperband's own sampler (Li et al. 2018): every new config is a draw from the space's prior.
struct RandomSampler {
  static constexpr FixedString suffix = "";

  template <typename S>
  Config<S> sample(const History<S>& /*history*/, const detail::Scheduler& /*scheduler*/, std::mt19937_64& rng) {
    return S::sample(rng);
  }

  nlohmann::json options_json() const { return nullptr; }
};

// What a sampler of space S provides (see the header comment).
template <typename T, typename S>
concept BracketSampler = std::default_initializable<T> &&
    requires(T& sampler, const T& constant, const History<S>& history, const detail::Scheduler& scheduler,
             std::mt19937_64& rng) {
  { T::suffix.view() } -> std::convertible_to<std::string_view>;
  { sampler.template sample<S>(history, scheduler, rng) } -> std::same_as<Config<S>>;
  { constant.options_json() } -> std::convertible_to<nlohmann::json>;
};

}  // namespace hyperband

}  // namespace mahpo::search

namespace mahpo::search::hyperband::detail {

// Configs from a sampler through brackets: Hyperband cycles every bracket, successive halving
// repeats the most aggressive one.
template <typename S, FixedString Name, Cycle Order, typename Sampler>
class SampledBrackets {
  static_assert(BracketSampler<Sampler, S>,
                "mahpo: a Hyperband sampler needs a FixedString `suffix`, sample<S>(history, scheduler, rng) "
                "returning a Config<S>, and options_json() (see hyperband/sampled_brackets.hpp)");

 public:
  using space_type = S;
  using sampler_type = Sampler;
  static constexpr auto full_name = join<Name, Sampler::suffix>();
  static constexpr std::string_view name = full_name.view();

  explicit SampledBrackets(SearchOptions options = {}, HyperbandOptions brackets = {}, Sampler sampler = {})
      : options_(options),
        history_(options.goal),
        rng_(options.seed),
        scheduler_(make_shape(name, brackets.min_budget, brackets.max_budget, brackets.eta), Order),
        brackets_(brackets),
        sampler_(std::move(sampler)) {}

  Trial<S> ask() {
    const Slot slot = scheduler_.ask(history_.asked());
    Config<S> config =
        slot.parent ? history_.entries()[*slot.parent].config : sampler_.template sample<S>(history_, scheduler_, rng_);
    Trial<S> trial = history_.add(std::move(config), Budget{.epochs = slot.budget});
    if (brackets_.resume) trial.resume_from = slot.parent;
    return trial;
  }

  // Trials whose training no promotion will continue any more (search::ContinuesTrials).
  bool continues_trials() const { return brackets_.resume; }
  std::vector<std::size_t> drop_states() { return scheduler_.take_dropped(); }

  void tell(std::size_t id, const Result& result) {
    const auto& entry = history_.tell(id, result, name);
    scheduler_.tell(id, entry.usable() ? entry.loss : std::numeric_limits<double>::infinity());
  }

  const SearchOptions& options() const { return options_; }
  // The brackets' options; a sampler's own, when it has some, under "sampler".
  nlohmann::json options_json() const {
    nlohmann::json json = brackets_;
    if (auto own = sampler_.options_json(); !own.is_null()) json["sampler"] = std::move(own);
    return json;
  }
  // The pending trial `id` was run with `config` (see Searcher::replace).
  void replace(std::size_t id, const Config<S>& config) { history_.replace(id, config, name); }
  const History<S>& history() const { return history_; }
  const Sampler& sampler() const { return sampler_; }
  // The brackets' shape (s_max, sizes, budgets) and the bracket each trial belongs to.
  const Shape& shape() const { return scheduler_.shape(); }
  std::size_t bracket_of(std::size_t id) const { return scheduler_.bracket(id); }

 private:
  SearchOptions options_;
  History<S> history_;
  std::mt19937_64 rng_;
  Scheduler scheduler_;
  HyperbandOptions brackets_;
  Sampler sampler_;
};

}  // namespace mahpo::search::hyperband::detail
