// The report page (see report_page.h). Readiness marker for tests and readers: once every chart
// has been drawn and every <img> has loaded with naturalWidth > 0 and no script error happened,
// the page sets <body data-status="ok"> and appends " [ok]" to document.title; otherwise
// data-status says what failed ("fail: 2 images missing, ...").
#include "report_page.h"

#include <cmath>
#include <cstdio>

#include "aulens/report.h"

using nlohmann::json;

namespace aulens::report_detail {

namespace {

std::string esc(const json& value) {
  if (value.is_null()) return "–";
  if (value.is_string()) return html_escape(value.get<std::string>());
  return html_escape(value.dump(-1, ' ', false, json::error_handler_t::replace));
}

std::string fixed(const json& value, int decimals) {
  if (!value.is_number()) return "–";
  char buffer[64];
  std::snprintf(buffer, sizeof(buffer), "%.*f", decimals, value.get<double>());
  return buffer;
}

std::string p_text(const json& value) {
  if (!value.is_number()) return "–";
  char buffer[64];
  std::snprintf(buffer, sizeof(buffer), value.get<double>() < 0.001 ? "%.1e" : "%.3f",
                value.get<double>());
  return buffer;
}

// JSON safe inside <script>: no "<", ">" or "&" characters at all.
std::string script_json(const json& doc) {
  const std::string text = doc.dump(-1, ' ', false, json::error_handler_t::replace);
  std::string s;
  s.reserve(text.size());
  for (const char c : text) {
    if (c == '<')
      s += "\\u003c";
    else if (c == '>')
      s += "\\u003e";
    else if (c == '&')
      s += "\\u0026";
    else
      s += c;
  }
  return s;
}

const char* kStyle = R"CSS(
body{font:14px/1.45 system-ui,sans-serif;margin:0 auto;max-width:1500px;padding:0 20px 40px;color:#222}
h1{margin:18px 0 4px}h2{border-bottom:2px solid #ddd;padding-bottom:3px;margin-top:32px}
table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:3px 7px;vertical-align:top}
th{background:#f3f3f3}.num{text-align:right}.warn{background:#ffe3e0;border:1px solid #e33;padding:6px 10px;margin:8px 0}
.note{color:#8a5a00}.hit{color:#087a08;font-weight:bold}.miss{color:#b00;font-weight:bold}
.au img{display:block;margin:2px 0;height:120px;width:auto}.charts{display:flex;flex-wrap:wrap;gap:14px}
.chartbox{border:1px solid #ddd;padding:6px}.chartbox h4{margin:0 0 4px}
#gallery{display:flex;flex-wrap:wrap;gap:8px}.card{border:1px solid #ccc;padding:4px;font-size:12px}
.card img{display:block}.legend span{display:inline-block;width:12px;height:12px;margin:0 4px 0 12px;vertical-align:middle}
pre{background:#f7f7f7;padding:8px;overflow:auto;max-height:300px}
)CSS";

const char* kScript = R"JS(
(function () {
  var data = JSON.parse(document.getElementById('report-data').textContent);
  var expected = 0, drawn = 0;
  function chart(id, config) {
    expected++;
    var canvas = document.getElementById(id);
    if (!canvas || typeof Chart === 'undefined') return;
    config.options = Object.assign({animation: false, responsive: false}, config.options || {});
    new Chart(canvas, config);
    drawn++;
  }
  function text(tag, content, cls) {
    var e = document.createElement(tag);
    e.textContent = content;
    if (cls) e.className = cls;
    return e;
  }
  // Training curves.
  var tr = data.training;
  if (tr && tr.epochs && tr.epochs.length) {
    var epochs = tr.epochs.map(function (e) { return e.epoch; });
    chart('chart-loss', {type: 'line', data: {labels: epochs, datasets: [
      {label: 'train loss', data: tr.epochs.map(function (e) { return e.train_loss; }), borderColor: '#1f77b4'},
      {label: 'held-out loss', data: tr.epochs.map(function (e) { return e.test_loss; }), borderColor: '#d62728'}]},
      options: {scales: {x: {title: {display: true, text: 'epoch'}}}}});
    chart('chart-accuracy', {type: 'line', data: {labels: epochs, datasets: [
      {label: 'train accuracy', data: tr.epochs.map(function (e) { return e.train_accuracy; }), borderColor: '#1f77b4'},
      {label: 'held-out accuracy', data: tr.epochs.map(function (e) { return e.test_accuracy; }), borderColor: '#d62728'}]},
      options: {scales: {x: {title: {display: true, text: 'epoch'}}, y: {min: 0, max: 1}}}});
  }
  // Distance over all maps, one chart per AU (the paper's Figs. 7-8).
  (data.aus || []).forEach(function (au, i) {
    if (!au.distances) return;
    var labels = au.distances.map(function (_, k) { return k; });
    chart('chart-au-' + i, {type: 'bar', data: {labels: labels, datasets: [{
      label: au.label + ' distance D_a', data: au.distances,
      backgroundColor: au.distances.map(function (_, k) { return k === au.map ? '#d62728' : '#7f9fbf'; })}]},
      options: {plugins: {legend: {display: false}},
                scales: {x: {title: {display: true, text: 'conv3 map'}, ticks: {maxTicksLimit: 16}},
                         y: {title: {display: true, text: 'D_a(j)'}}}}});
  });
  // Gallery, sortable.
  var gallery = document.getElementById('gallery');
  function fill(order) {
    while (gallery.firstChild) gallery.removeChild(gallery.firstChild);
    order.forEach(function (m) {
      var card = document.createElement('div');
      card.className = 'card';
      card.appendChild(text('div', 'map ' + m.map + (m.au ? ' · strongest ' + m.au + ' · D=' + m.score.toFixed(3) : '')));
      if (m.top_au) card.appendChild(text('div', 'top ' + m.top_n + ': ' + m.top_au_count + ' carry ' + m.top_au + ' (' + Math.round(100 * m.top_au_rate) + '% of images)'));
      if (m.png) { var img = document.createElement('img'); img.src = m.png; img.alt = 'map ' + m.map; card.appendChild(img); }
      gallery.appendChild(card);
    });
  }
  var maps = (data.maps || []).slice();
  function byScore() { fill(maps.slice().sort(function (a, b) { return (b.score || -1) - (a.score || -1) || a.map - b.map; })); }
  function byIndex() { fill(maps.slice().sort(function (a, b) { return a.map - b.map; })); }
  document.getElementById('sort-score').onclick = byScore;
  document.getElementById('sort-index').onclick = byIndex;
  byScore();
  // Readiness: every chart drawn, every image loaded, no error.
  function finish() {
    var problems = [];
    if (drawn !== expected) problems.push((expected - drawn) + ' of ' + expected + ' charts not drawn');
    var missing = 0, images = document.images;
    for (var i = 0; i < images.length; i++) if (!images[i].complete || images[i].naturalWidth === 0) missing++;
    if (missing) problems.push(missing + ' of ' + images.length + ' images missing');
    if (window.__reportErrors.length) problems.push('script errors: ' + window.__reportErrors.join(' | '));
    document.body.setAttribute('data-status', problems.length ? 'fail: ' + problems.join(', ') : 'ok');
    document.body.setAttribute('data-charts', String(drawn));
    document.body.setAttribute('data-images', String(images.length));
    if (!problems.length) document.title += ' [ok]';
  }
  if (document.readyState === 'complete') finish(); else window.addEventListener('load', finish);
})();
)JS";

}  // namespace

std::string render_page(const json& doc, bool with_charts) {
  std::string h;
  h += "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n";
  h += "<title>aulens report</title>\n<style>";
  h += kStyle;
  h += "</style>\n<script>window.__reportErrors=[];window.addEventListener('error',function(e){"
       "window.__reportErrors.push(e.message||('cannot load '+((e.target&&(e.target.src||e.target."
       "href))||'a resource')));},true);</script>\n";
  if (with_charts) h += "<script src=\"chart.js\"></script>\n";
  h += "</head>\n<body data-status=\"pending\">\n";
  h += "<h1>aulens report</h1>\n<p>Run folder <code>" + esc(doc["run_dir"]) +
       "</code>, config <code>" + esc(doc["config_file"]) + "</code>.";
  const json& model = doc["model"];
  h += " Network widths conv " + esc(model["conv1"]) + "/" + esc(model["conv2"]) + "/" +
       esc(model["conv3"]) + ", fc " + esc(model["fc"]) + ", input " + esc(model["input_size"]) +
       "×" + esc(model["input_size"]) + ".";
  if (model.contains("checkpoint")) {
    h += " Analysed model <code id=\"analysed-checkpoint\">" + esc(model["checkpoint"]) + "</code>";
    h += model.value("checkpoint_given", false)
             ? " (<b>trained elsewhere</b>: given by <code>visualize.checkpoint</code> or "
               "<code>aulens visualize --checkpoint</code>, not trained in this run)."
             : ".";
  }
  if (doc.value("cpu_sized", false))
    h += " <b>CPU-sized run</b> (the config's <code>cpu:</code> section was applied).";
  h += "</p>\n";
  for (const auto& note : doc["notes"]) h += "<p class=\"note\">Note: " + esc(note) + "</p>\n";

  // ---- dataset ----
  const json& d = doc["dataset"];
  const json& split = d["split"];
  h += "<h2>Dataset and split</h2>\n<table>";
  h += "<tr><th>source</th><td>" + esc(d["source"]) + "</td></tr>";
  h += "<tr><th>root</th><td><code>" + esc(d["root"]) + "</code></td></tr>";
  h += "<tr><th>images</th><td class=\"num\">" + esc(d["images"]) + "</td></tr>";
  h += "<tr><th>subjects</th><td class=\"num\">" + esc(d["subjects"]) + "</td></tr>";
  h += "<tr><th>skipped items</th><td class=\"num\">" + esc(d["issues"]) + "</td></tr>";
  h += "<tr><th>split</th><td>" + esc(split["protocol"]) + ": " + esc(split["train"]) +
       " training, " + esc(split["test"]) + " held-out images</td></tr></table>\n";
  if (split.value("subject_overlapping", false) || split.value("shared_subjects", 0) > 0) {
    h += "<p class=\"warn\" id=\"overlap-warning\"><b>Subject-overlapping split:</b> " +
         esc(split["shared_subjects"]) +
         " subjects have images in both the training and the held-out split, so the held-out "
         "accuracy overstates how the model does on new people.</p>\n";
  } else {
    h += "<p>Subject-independent: no subject has images in both splits.</p>\n";
  }
  h += "<table><tr><th>class</th><th>labelled images</th></tr>";
  for (std::size_t c = 0; c < d["class_names"].size(); ++c)
    h += "<tr><td>" + esc(d["class_names"][c]) + "</td><td class=\"num\">" +
         esc(d["class_counts"][c]) + "</td></tr>";
  h += "</table>\n<details><summary>Full dataset summary</summary><pre>" + esc(d["summary"]) +
       "</pre></details>\n";

  // ---- training ----
  h += "<h2>Training</h2>\n";
  if (doc.contains("training")) {
    const json& t = doc["training"];
    const std::string stop = t.value("stop_reason", std::string());
    h += "<p>Device " + esc(t.value("device", json())) + ", " + std::to_string(t["epochs"].size()) +
         " epochs" + (stop.empty() ? std::string() : ", stopped: " + html_escape(stop)) +
         ". Best held-out accuracy <b>" + fixed(t.value("best_test_accuracy", json()), 3) +
         "</b> at epoch " + esc(t.value("best_epoch", json())) + " (chance " +
         fixed(json(1.0 / std::max<double>(1.0, t["class_names"].size())), 3) + ").</p>\n";
    h += "<div class=\"charts\"><div class=\"chartbox\"><h4>Loss</h4><canvas id=\"chart-loss\" "
         "width=\"520\" height=\"280\"></canvas></div><div class=\"chartbox\"><h4>Accuracy</h4>"
         "<canvas id=\"chart-accuracy\" width=\"520\" height=\"280\"></canvas></div></div>\n";
    // Confusion matrix of the best epoch.
    const json& epochs = t["epochs"];
    const int best = t.value("best_epoch", 0);
    const json* chosen = nullptr;
    for (const auto& e : epochs)
      if (e.value("epoch", -1) == best) chosen = &e;
    if (!chosen && !epochs.empty()) chosen = &epochs.back();
    if (chosen && (*chosen)["test_confusion"].is_array()) {
      const json& names = t["class_names"];
      const std::size_t c = names.size();
      const json& conf = (*chosen)["test_confusion"];
      h += "<h3>Confusion matrix (held-out, epoch " + esc((*chosen)["epoch"]) +
           "; rows true, columns predicted)</h3>\n<table id=\"confusion\"><tr><th></th>";
      for (std::size_t j = 0; j < c; ++j) h += "<th>" + esc(names[j]) + "</th>";
      h += "<th>recall</th></tr>";
      for (std::size_t i = 0; i < c; ++i) {
        double row_sum = 0;
        for (std::size_t j = 0; j < c; ++j) row_sum += conf.at(i * c + j).get<double>();
        h += "<tr><th>" + esc(names[i]) + "</th>";
        for (std::size_t j = 0; j < c; ++j) {
          const double v = conf.at(i * c + j).get<double>();
          const int shade = row_sum > 0 ? static_cast<int>(255 - 155 * v / row_sum) : 255;
          char style[96];
          std::snprintf(style, sizeof(style), " style=\"background:rgb(%d,%d,255)\"", shade, shade);
          h += std::string("<td class=\"num\"") + style + ">" + esc(conf.at(i * c + j)) + "</td>";
        }
        h += "<td class=\"num\">" + fixed((*chosen)["test_per_class_accuracy"].at(i), 2) +
             "</td></tr>";
      }
      h += "</table>\n";
    }
  } else if (model.value("checkpoint_given", false)) {
    h += "<p class=\"note\">The analysed model was trained elsewhere; its training is not part "
         "of this run.</p>\n";
  } else {
    h += "<p class=\"note\">No training metrics.</p>\n";
  }

  // ---- AU → map ----
  const json& gt = doc["ground_truth"];
  h += "<h2>AU → feature map</h2>\n";
  if (gt.value("scored", 0) > 0) {
    h += "<p id=\"hit-rate\">Ground truth (synthetic regions): <b>" + esc(gt["hits"]) + " of " +
         esc(gt["scored"]) +
         "</b> best maps put more than half of their projection energy inside "
         "the AU's region, hit rate <b>" +
         fixed(gt["hit_rate"], 2) +
         "</b>. Share = the projection energy (sum of squares) inside the AU's box over the total, "
         "averaged over the map's top images; an image without its own box for the AU uses the "
         "AU's median box. Baseline = the share an even spread over the receptive field would "
         "get. Scored the same way, the best maps by AUC hit <b id=\"auc-hits\">" +
         esc(gt.value("auc_hits", json())) + " of " + esc(gt.value("auc_scored", json())) +
         "</b>.</p>\n";
  } else {
    h += "<p>No ground-truth regions for this dataset (only the synthetic set records them).</p>\n";
  }
  h += "<p class=\"legend\">Projections: heat = |deconvnet projection| over the network's input "
       "crop;<span style=\"background:#00c8ff\"></span>receptive field (32×32)"
       "<span style=\"background:#00e600\"></span>the image's AU region"
       "<span style=\"background:#ffdc00\"></span>the AU's median region (image has none)</p>\n";
  h += "<table id=\"au-table\"><tr><th>AU</th><th>images with / without</th><th>best map</th>"
       "<th>distance</th><th>margin</th><th>p-value</th><th>AUC</th>"
       "<th>best map by AUC</th><th>region share (baseline)</th>"
       "<th>face crops carrying the AU · best map's top projections</th></tr>\n";
  for (const auto& au : doc["aus"]) {
    h += "<tr class=\"au\"><td><b>" + esc(au["label"]) + "</b><br>" + esc(au["name"]) + "</td>";
    h += "<td class=\"num\">" + esc(au["with"]) + " / " + esc(au["without"]) + "</td>";
    h += "<td class=\"num\">" + esc(au["map"]) +
         (au.contains("top_with_au")
              ? "<br><small title=\"of the map's strongest images over all analysed images\">" +
                    esc(au["top_with_au"]) + " of top " + esc(au["sweep_top_n"]) +
                    " carry it</small>"
              : std::string()) +
         "</td>";
    h += "<td class=\"num\">" + fixed(au["distance"], 3) + "</td>";
    h += "<td class=\"num\">" + fixed(au["margin"], 3) + "</td>";
    h += "<td class=\"num\">" + p_text(au["p_value"]) + "</td>";
    h +=
        "<td class=\"num\">" + fixed(au.value("auc", json()), 2) +
        (au.contains("direction")
             ? "<br><small title=\"the best map's top-n with the AU (R) against without it (Q)\">" +
                   std::string(au["direction"] == "higher" ? "R above Q" : "R below Q") + "</small>"
             : std::string()) +
        "</td>";
    h += "<td class=\"num\">" +
         (au.contains("auc_map")
              ? "map " + esc(au["auc_map"]) + " (" + fixed(au["auc_map_auc"], 2) + ")"
              : std::string("–")) +
         (au.contains("auc_region")
              ? std::string("<br>") + fixed(au["auc_region"]["share"], 2) + " " +
                    (au["auc_region"]["hit"].get<bool>() ? "hit" : "miss")
              : std::string()) +
         "</td>";
    if (au.contains("region")) {
      const json& r = au["region"];
      h += std::string("<td class=\"num ") + (r["hit"].get<bool>() ? "hit\">" : "miss\">") +
           fixed(r["share"], 2) + " (" + fixed(r["baseline"], 2) + ")<br>" +
           (r["hit"].get<bool>() ? "hit" : "miss") + "</td>";
    } else {
      h += "<td>–</td>";
    }
    h += "<td>";
    if (au.contains("examples_png"))
      h += "<img src=\"" + esc(au["examples_png"]) + "\" alt=\"face crops with " +
           esc(au["label"]) + "\">";
    if (au.contains("projections_png"))
      h += "<img src=\"" + esc(au["projections_png"]) + "\" alt=\"projections of map " +
           esc(au["map"]) + "\">";
    if (au.contains("deconv_png"))
      h += "<img src=\"" + esc(au["deconv_png"]) + "\" alt=\"deconv strip of map " +
           esc(au["map"]) + "\">";
    h += "</td></tr>\n";
  }
  h += "</table>\n";

  // ---- per-AU distance charts ----
  h += "<h2>Distance of every map, per AU</h2>\n<p>D<sub>a</sub>(j) for every conv3 map a; the "
       "best map in red (the paper's Figures 7–8).</p>\n<div class=\"charts\">";
  int i = 0;
  for (const auto& au : doc["aus"]) {
    if (au.contains("distances"))
      h += "<div class=\"chartbox\"><h4>" + esc(au["label"]) + " " + esc(au["name"]) +
           "</h4><canvas id=\"chart-au-" + std::to_string(i) +
           "\" width=\"440\" height=\"200\"></canvas></div>";
    ++i;
  }
  h += "</div>\n";

  // ---- gallery ----
  h += "<h2>All maps</h2>\n<p>Each map's top projections (deconvnet, grey = 0), its AU of largest "
       "distance, and the AU most of its top images carry (with that AU's share of all images). "
       "Sort: "
       "<button id=\"sort-score\">by strongest AU score</button> "
       "<button id=\"sort-index\">by map index</button></p>\n<div id=\"gallery\"></div>\n";

  h += "<script type=\"application/json\" id=\"report-data\">" + script_json(doc) +
       "</script>\n<script>";
  h += kScript;
  h += "</script>\n</body></html>\n";
  return h;
}

}  // namespace aulens::report_detail
