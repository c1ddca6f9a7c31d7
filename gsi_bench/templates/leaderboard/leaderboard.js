"use strict";
// Draws the GSI-Bench leaderboard from the JSON in #gsi-data (gsi_bench.leaderboard_page). Every string of the
// data is set as text (textContent, SVG <title>), never parsed as HTML: labels and paths are user input.
(() => {
  const SVG_NS = "http://www.w3.org/2000/svg";
  const data = JSON.parse(document.getElementById("gsi-data").textContent);
  const COLUMNS = data.columns;
  const AXES = data.axes;
  const PROFILE_NOTES = {
    gsi: "gsi: the full 3D change (target, kind, direction and amount of the edit).",
    paper: "paper: the formulas of the paper's Table 2 on the same perception.",
  };
  const unique = (values) => [...new Set(values)];
  const subsetOf = (record) => `${record.config ?? "?"}/${record.split ?? "?"}`;
  const isNumber = (value) => typeof value === "number" && Number.isFinite(value);
  const plural = (count, noun) => `${count} ${noun}${count === 1 ? "" : "s"}`;
  const format = (value) => (isNumber(value) ? value.toFixed(2) : "\u2013");
  const get = (object, ...keys) => keys.reduce((value, key) => (value == null ? undefined : value[key]), object);
  const byKnownOrder = (known) => (a, b) =>
    (known.includes(a) ? known.indexOf(a) : known.length) - (known.includes(b) ? known.indexOf(b) : known.length);

  const records = withNames(data.records);
  const runName = (record) => record.name;
  const profiles = unique(records.map((record) => String(record.profile))).sort(byKnownOrder(data.profiles));
  const runs = unique(records.map(runName));
  const colours = new Map(runs.map((name, i) => [name, data.palette[i % data.palette.length]]));
  const state = {
    profile: profiles.includes(data.profiles[0]) ? data.profiles[0] : profiles[0],
    sort: new Map(), // "subset|scope" -> {key, descending}
    selected: null, // record index shown in the details panel
  };

  /** The records, each with its index and a row name: its model, and when a model has several runs of one subset
   * and profile (a results dataset keeps every push), also the time each finished. */
  function withNames(given) {
    const modelOf = (record) => String(record.model ?? record.label ?? "?");
    const keyOf = (record) => JSON.stringify([modelOf(record), subsetOf(record), String(record.profile)]);
    const counts = new Map();
    for (const record of given) counts.set(keyOf(record), (counts.get(keyOf(record)) ?? 0) + 1);
    return given.map((record, index) => {
      const time = get(record, "manifest", "timestamp") ?? `#${index + 1}`;
      const name = counts.get(keyOf(record)) > 1 ? `${modelOf(record)} (${time})` : modelOf(record);
      return Object.assign({}, record, { index, name });
    });
  }

  /** An HTML element with attributes and children (strings become text nodes). */
  function el(tag, attributes = {}, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
    node.append(...children.filter((child) => child != null));
    return node;
  }

  /** An SVG element with attributes. */
  function svg(tag, attributes = {}) {
    const node = document.createElementNS(SVG_NS, tag);
    for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, String(value));
    return node;
  }

  function swatch(name) {
    const node = el("span", { class: "swatch", "aria-hidden": "true" });
    node.style.backgroundColor = colours.get(name);
    return node;
  }

  function metricsOf(record, scope) {
    return scope === "overall" ? (record.overall ?? {}) : get(record, "per_operation", scope);
  }

  /** The 95% interval of a column as [low, high], or null when there is none (Avg) or it is undefined. */
  function intervalOf(metrics, column) {
    const interval = get(metrics, `${column}_ci95`);
    return Array.isArray(interval) && interval.length === 2 && interval.every(isNumber) ? interval : null;
  }

  const formatInterval = (interval) => `[${format(interval[0])}, ${format(interval[1])}]`;

  function failures(record) {
    return Object.entries(record.status_counts ?? {})
      .filter(([status, count]) => status !== "ok" && count)
      .sort(([a], [b]) => a.localeCompare(b));
  }

  // ---- tables ---------------------------------------------------------------------------------------------

  function tableColumns(scope) {
    const columns = [
      { key: "run", label: "Run", text: true },
      { key: "n", label: "n" },
      ...COLUMNS.map((column) => ({ key: column, label: column })),
    ];
    return scope === "overall" ? [...columns, { key: "failures", label: "not ok", text: true }] : columns;
  }

  function sortValue(record, key, scope) {
    if (key === "run") return runName(record).toLowerCase();
    if (key === "failures") return failures(record).reduce((total, [, count]) => total + count, 0);
    const value = get(metricsOf(record, scope), key);
    return isNumber(value) ? value : null;
  }

  function sortedRecords(group, scope, sort) {
    const direction = sort.descending ? -1 : 1;
    return [...group].sort((a, b) => {
      const x = sortValue(a, sort.key, scope);
      const y = sortValue(b, sort.key, scope);
      if (x === null || y === null) return x === y ? a.index - b.index : x === null ? 1 : -1; // no value: last
      if (x < y) return -direction;
      if (x > y) return direction;
      return a.index - b.index;
    });
  }

  function metricCell(metrics, column) {
    const value = get(metrics, column);
    const interval = intervalOf(metrics, column);
    const cell = el("td", { class: "num", "data-column": column }, el("span", { class: "value" }, format(value)));
    if (isNumber(value)) cell.dataset.value = String(value);
    if (interval) cell.append(el("span", { class: "ci", title: "95% bootstrap interval" }, formatInterval(interval)));
    return cell;
  }

  function runButton(record) {
    const button = el("button", { type: "button", class: "run", title: "Show this run's manifest" });
    button.append(swatch(runName(record)), el("span", { class: "run-name" }, runName(record)));
    button.addEventListener("click", () => showDetails(record));
    return button;
  }

  function renderTable(container, group, subset, scope) {
    const key = `${subset}|${scope}`;
    const sort = state.sort.get(key) ?? { key: "Avg", descending: true };
    const columns = tableColumns(scope);
    const headRow = el("tr");
    for (const column of columns) {
      const th = el("th", { scope: "col", class: column.text ? "text" : "num", "data-key": column.key });
      if (column.key === sort.key) th.setAttribute("aria-sort", sort.descending ? "descending" : "ascending");
      const button = el("button", { type: "button", title: `Sort by ${column.label}` }, column.label);
      button.addEventListener("click", () => {
        // A new column sorts best first (names A-Z); the same column again reverses.
        const descending = column.key === sort.key ? !sort.descending : !column.text;
        state.sort.set(key, { key: column.key, descending });
        renderTable(container, group, subset, scope);
      });
      th.append(button);
      headRow.append(th);
    }
    const body = el("tbody");
    for (const record of sortedRecords(group, scope, sort)) {
      const metrics = metricsOf(record, scope) ?? {};
      const row = el("tr", { "data-run": String(record.index) });
      if (record.index === state.selected) row.classList.add("selected");
      row.append(el("td", { class: "text run-cell" }, runButton(record)));
      row.append(el("td", { class: "num", "data-column": "n" }, String(metrics.n ?? "\u2013")));
      for (const column of COLUMNS) row.append(metricCell(metrics, column));
      if (scope === "overall") {
        const text =
          failures(record)
            .map(([status, count]) => `${status} ${count}`)
            .join(", ") || "0";
        row.append(el("td", { class: "text failures", "data-column": "failures" }, text));
      }
      body.append(row);
    }
    const table = el("table", { class: "board", "data-scope": scope }, el("thead", {}, headRow), body);
    container.replaceChildren(table);
  }

  // ---- charts ---------------------------------------------------------------------------------------------

  function renderChart(group, scope) {
    const width = Math.max(440, 60 + COLUMNS.length * (group.length * 16 + 18));
    const height = 230;
    const [left, right, top, bottom] = [34, 8, 26, 24];
    const plotWidth = width - left - right;
    const plotHeight = height - top - bottom;
    const y = (value) => top + plotHeight * (1 - Math.min(Math.max(value, 0), 100) / 100);
    const title = scope === "overall" ? "Overall" : scope;
    const chart = svg("svg", {
      viewBox: `0 0 ${width} ${height}`,
      role: "img",
      "data-scope": scope,
      "aria-label": `${title}: ${COLUMNS.join(", ")} per run, with 95% intervals`,
    });
    const heading = svg("text", { x: left, y: 14, class: "chart-title" });
    heading.textContent = title;
    chart.append(heading);
    for (const tick of [0, 25, 50, 75, 100]) {
      chart.append(svg("line", { x1: left, x2: width - right, y1: y(tick), y2: y(tick), class: "grid" }));
      const label = svg("text", { x: left - 5, y: y(tick) + 3, "text-anchor": "end", class: "tick-label" });
      label.textContent = String(tick);
      chart.append(label);
    }
    const groupWidth = plotWidth / COLUMNS.length;
    const barWidth = (groupWidth * 0.8) / Math.max(group.length, 1);
    COLUMNS.forEach((column, g) => {
      const groupLeft = left + g * groupWidth + groupWidth * 0.1;
      const label = svg("text", {
        x: groupLeft + groupWidth * 0.4,
        y: height - 8,
        "text-anchor": "middle",
        class: "axis-label",
      });
      label.textContent = column;
      chart.append(label);
      group.forEach((record, i) => {
        const metrics = metricsOf(record, scope);
        const value = get(metrics, column);
        if (!isNumber(value)) return;
        const x = groupLeft + i * barWidth;
        const interval = intervalOf(metrics, column);
        const bar = svg("rect", {
          x: x + barWidth * 0.08,
          y: y(value),
          width: barWidth * 0.84,
          height: y(0) - y(value),
          fill: colours.get(runName(record)),
          class: "bar",
          "data-run": record.index,
          "data-column": column,
        });
        const tooltip = svg("title");
        tooltip.textContent =
          `${runName(record)}: ${column} ${format(value)}` + (interval ? ` ${formatInterval(interval)}` : "");
        bar.append(tooltip);
        chart.append(bar);
        if (interval) {
          const middle = x + barWidth / 2;
          const cap = Math.min(4, barWidth * 0.3);
          const whisker = svg("g", { class: "whisker", "data-run": record.index, "data-column": column });
          whisker.append(
            svg("line", { x1: middle, x2: middle, y1: y(interval[0]), y2: y(interval[1]) }),
            svg("line", { x1: middle - cap, x2: middle + cap, y1: y(interval[0]), y2: y(interval[0]) }),
            svg("line", { x1: middle - cap, x2: middle + cap, y1: y(interval[1]), y2: y(interval[1]) }),
          );
          chart.append(whisker);
        }
      });
    });
    chart.append(svg("line", { x1: left, x2: width - right, y1: y(0), y2: y(0), class: "baseline" }));
    return el("figure", { class: "scope-chart" }, chart);
  }

  // ---- page -----------------------------------------------------------------------------------------------

  function comparabilityNotes(group) {
    const notes = [];
    for (const [what, keys] of [
      ["dataset rows", ["dataset", "fingerprint", "sample_ids_sha256"]],
      ["backends", ["backend", "config_hash"]],
    ]) {
      if (unique(group.map((record) => JSON.stringify(get(record.manifest, ...keys) ?? null))).length > 1) {
        notes.push(`Note: these runs were scored on different ${what}; their numbers are not directly comparable.`);
      }
    }
    return notes;
  }

  function renderSubset(subset) {
    const all = records.filter((record) => subsetOf(record) === subset);
    const group = all.filter((record) => String(record.profile) === state.profile);
    const section = el("section", { class: "subset", "data-subset": subset });
    const backends = unique(group.map((record) => String(get(record.manifest, "backend", "config_hash") ?? "?")));
    const meta = group.length
      ? `profile ${state.profile} \u00b7 ${plural(group.length, "run")} \u00b7 backend ${backends.join(", ")}`
      : `profile ${state.profile}`;
    section.append(
      el(
        "div",
        { class: "subset-head" },
        el("h2", {}, subset.replace("/", " / ")),
        el("span", { class: "meta" }, meta),
      ),
    );
    const shown = new Set(group.map(runName));
    const elsewhere = unique(all.map(runName).filter((name) => !shown.has(name)));
    if (elsewhere.length) {
      const text = `Not scored in profile ${state.profile} (switch profile to see them): ${elsewhere.join(", ")}`;
      section.append(el("p", { class: "missing-profile" }, text));
    }
    if (!group.length) return section;
    for (const note of comparabilityNotes(group)) section.append(el("p", { class: "note" }, note));
    const legend = el("div", { class: "legend", "aria-label": "Runs" });
    for (const record of group)
      legend.append(el("span", { class: "legend-item" }, swatch(runName(record)), runName(record)));
    section.append(legend);
    const operations = unique(group.flatMap((record) => Object.keys(record.per_operation ?? {}))).sort();
    for (const scope of ["overall", ...operations]) {
      const samples = unique(group.map((record) => get(metricsOf(record, scope), "n")).filter(isNumber));
      const heading = el("h3", {}, scope === "overall" ? "Overall" : scope);
      if (samples.length === 1)
        heading.append(" ", el("span", { class: "count" }, `(${plural(samples[0], "sample")})`));
      const tableBox = el("div", { class: "scope-table-body" });
      renderTable(tableBox, group, subset, scope);
      section.append(
        el(
          "div",
          { class: "scope", "data-scope": scope },
          el("div", { class: "scope-table" }, heading, tableBox),
          renderChart(group, scope),
        ),
      );
    }
    return section;
  }

  function renderProfileSwitch() {
    const box = document.getElementById("profile-switch");
    if (profiles.length < 2) {
      box.append(el("span", { class: "switch-label" }, `Profile: ${profiles[0] ?? "none"}`));
      return;
    }
    const segmented = el("div", { class: "segmented", role: "radiogroup", "aria-label": "Scoring profile" });
    for (const profile of profiles) {
      const input = el("input", { type: "radio", name: "profile", value: profile });
      input.checked = profile === state.profile;
      input.addEventListener("change", () => {
        state.profile = profile;
        render();
      });
      segmented.append(el("label", {}, input, profile));
    }
    const notes = profiles
      .map((profile) => PROFILE_NOTES[profile])
      .filter(Boolean)
      .join(" ");
    box.append(
      el("span", { class: "switch-label" }, "Scoring profile"),
      segmented,
      notes ? el("span", { class: "profile-note" }, notes) : null,
    );
  }

  function render() {
    const main = document.getElementById("subsets");
    const subsets = unique(records.map(subsetOf));
    main.replaceChildren(...subsets.map(renderSubset));
    if (!subsets.length) main.append(el("p", { class: "empty" }, "No runs to show."));
  }

  // ---- run details ----------------------------------------------------------------------------------------

  function facts(record) {
    const manifest = record.manifest ?? {};
    const dataset = manifest.dataset ?? {};
    const fingerprint = dataset.fingerprint ?? {};
    const backend = manifest.backend ?? {};
    const versions = Object.entries(manifest.versions ?? {}).map(
      ([name, value]) => `${name} ${value ?? "not installed"}`,
    );
    const timing = isNumber(manifest.seconds)
      ? [
          `${manifest.seconds.toFixed(1)} s`,
          isNumber(manifest.seconds_per_sample) ? `${manifest.seconds_per_sample.toFixed(2)} s/sample` : null,
          manifest.workers != null ? `${manifest.workers} worker(s)` : null,
        ]
          .filter(Boolean)
          .join(", ")
      : null;
    return [
      ["Run", runName(record)],
      ["Editor", manifest.editor ?? record.label],
      ["Subset", subsetOf(record)],
      [
        "Profile",
        `${record.profile}` + (Array.isArray(manifest.profiles) ? ` (scored in ${manifest.profiles.join(", ")})` : ""),
      ],
      ["Samples", dataset.num_rows != null ? `${record.num_samples} of ${dataset.num_rows} rows` : record.num_samples],
      [
        "Statuses",
        Object.entries(record.status_counts ?? {})
          .map(([status, count]) => `${status} ${count}`)
          .join(", "),
      ],
      ["gsi-bench", get(manifest, "package", "version")],
      ["Libraries", versions.join(", ")],
      ["Backend", backend.name != null ? `${backend.name}, config hash ${backend.config_hash}` : null],
      ["Dataset", dataset.path],
      [
        "Fingerprint",
        fingerprint.sample_ids_sha256 != null
          ? `sample ids sha256 ${fingerprint.sample_ids_sha256}, datasets ${fingerprint.datasets_fingerprint}`
          : null,
      ],
      ["Timing", timing],
      ["Finished", manifest.timestamp],
      ["Platform", manifest.platform],
    ].filter(([, value]) => value != null && value !== "");
  }

  function showDetails(record) {
    state.selected = record.index;
    document.getElementById("details-title").textContent = runName(record);
    const list = document.getElementById("details-facts");
    list.replaceChildren(
      ...facts(record).flatMap(([name, value]) => [el("dt", {}, name), el("dd", {}, String(value))]),
    );
    document.getElementById("details-json").textContent = JSON.stringify(record.manifest ?? {}, null, 2);
    const panel = document.getElementById("details");
    panel.dataset.run = String(record.index);
    panel.hidden = false;
    for (const row of document.querySelectorAll("tr.selected")) row.classList.remove("selected");
    for (const row of document.querySelectorAll(`tr[data-run="${record.index}"]`)) row.classList.add("selected");
    document.getElementById("details-close").focus();
  }

  function hideDetails() {
    state.selected = null;
    document.getElementById("details").hidden = true;
    for (const row of document.querySelectorAll("tr.selected")) row.classList.remove("selected");
  }

  document.getElementById("details-close").addEventListener("click", hideDetails);
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape") hideDetails();
  });
  document.getElementById("footer").textContent =
    `${plural(runs.length, "run")}, ${plural(records.length, "record")} \u00b7 ${AXES.join(", ")}: 0-100` +
    ` \u00b7 generated by ${data.generator} at ${data.generated_at}`;
  renderProfileSwitch();
  render();
})();
