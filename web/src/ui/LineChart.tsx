/**
 * A time series line chart (Chart.js through react-chartjs-2). Only the parts used are registered, so the bundle
 * carries no other chart types; the x axis is linear milliseconds formatted as UTC times, so no date adapter is needed.
 */
import { useTheme } from '@mui/material/styles';
import { Box } from '@mui/material';
import {
  Chart as ChartJS,
  Filler,
  LinearScale,
  LineElement,
  PointElement,
  Tooltip,
  type ChartOptions,
} from 'chart.js';
import { Line } from 'react-chartjs-2';
import type { Point } from '../lib/chartData';

ChartJS.register(LinearScale, PointElement, LineElement, Tooltip, Filler);

export function LineChart({
  points,
  label,
  description,
  formatX,
  formatY,
  xMin,
  xMax,
  height = 220,
}: {
  points: Point[];
  label: string; // the series name (tooltip)
  description: string; // the chart's text alternative (min / max / last)
  formatX: (ms: number) => string;
  formatY: (value: number) => string;
  xMin?: number;
  xMax?: number;
  height?: number;
}) {
  const theme = useTheme();
  const color = theme.palette.primary.main;
  const grid = theme.palette.divider;
  const text = theme.palette.text.secondary;
  const options: ChartOptions<'line'> = {
    responsive: true,
    maintainAspectRatio: false,
    animation: false,
    parsing: false,
    normalized: true,
    interaction: { mode: 'nearest', axis: 'x', intersect: false },
    plugins: {
      tooltip: {
        callbacks: {
          title: (items) => (items[0] ? formatX(items[0].parsed.x ?? 0) : ''),
          label: (item) => `${label}: ${formatY(item.parsed.y ?? 0)}`,
        },
      },
    },
    scales: {
      x: {
        type: 'linear',
        min: xMin,
        max: xMax,
        ticks: { color: text, maxTicksLimit: 6, callback: (value) => formatX(Number(value)) },
        grid: { color: grid },
      },
      y: {
        ticks: { color: text, maxTicksLimit: 5, callback: (value) => formatY(Number(value)) },
        grid: { color: grid },
      },
    },
  };
  return (
    <Box sx={{ position: 'relative', height, width: '100%' }}>
      <Line
        role="img"
        aria-label={description}
        options={options}
        data={{
          datasets: [
            {
              label,
              data: points,
              borderColor: color,
              backgroundColor: `${color}22`,
              fill: true,
              pointRadius: points.length > 60 ? 0 : 2,
              borderWidth: 2,
              tension: 0.2,
            },
          ],
        }}
      >
        {description}
      </Line>
    </Box>
  );
}
