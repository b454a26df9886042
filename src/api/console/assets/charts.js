// Time-series charts with uPlot: one component that creates the plot once, then only feeds it
// new data as the live view moves. Colours meet WCAG contrast on the white background.
import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import { html } from './format.js';

export const palette = ['#0b5cad', '#b3261e', '#1b7f3b', '#7a3e9d', '#8a5a00', '#006d77'];

/**
 * A line chart of `series` (arrays aligned with `t`, seconds since the epoch). `label` names it
 * for screen readers; the numbers themselves are in the tables beside each chart.
 */
export function Chart({ label, t, series, height = 160 }) {
  const box = useRef(null);
  const plot = useRef(null);
  const names = series.map((s) => s.name).join('\u0000');
  useEffect(() => {
    const width = Math.max(280, Math.min(760, box.current.clientWidth || 600));
    const options = {
      width,
      height,
      legend: { show: true },
      // One point alone would stretch the time axis over years: show the minute before it.
      scales: {
        x: { time: true, range: (_u, min, max) => (max - min < 60 ? [max - 60, max] : [min, max]) },
        y: { range: (_u, _min, max) => [0, Math.max(1, max * 1.1)] },
      },
      series: [
        {},
        ...series.map((s, i) => ({
          label: s.name,
          stroke: palette[i % palette.length],
          width: 2,
          spanGaps: true,
        })),
      ],
    };
    plot.current = new uPlot(options, [t, ...series.map((s) => s.data)], box.current);
    return () => {
      plot.current?.destroy();
      plot.current = null;
    };
  }, [names, height]);
  useEffect(() => {
    plot.current?.setData([t, ...series.map((s) => s.data)]);
  });
  return html`<figure class="chart" role="img" aria-label=${label}>
    <div ref=${box} class="chart-box"></div>
  </figure>`;
}
