// Vietnamese by default (the province's officials), English on a switch. Keys name a piece of text;
// each says it once in both languages, [Vietnamese, English], so neither can lack a key the other has.
const PHRASES = {
  title: ["Hạ tầng sẵn sàng IoT — tỉnh Bắc Ninh", "IoT-ready infrastructure — Bắc Ninh province"],
  measures: [
    "Bảng này đo chỉ tiêu của Kế hoạch 333/KH-UBND (13/10/2023), mục II.2:",
    "This board measures the target of Plan 333/KH-UBND (13 Oct 2023), section II.2:",
  ],
  measuresHow: [
    "— tỷ lệ tài sản thiết yếu có thiết bị đang hoạt động và gửi số liệu gần đây.",
    "— the share of essential assets with an active device that reported recently.",
  ],
  keyLabel: ["Khoá API (chỉ đọc là đủ)", "API key (read-only is enough)"],
  keySave: ["Mở bảng điều khiển", "Open the dashboard"],
  keyBad: ["Khoá không hợp lệ hoặc đã bị thu hồi.", "The key is unknown or revoked."],
  welcome: ["Bảng điều khiển cần một khoá API để đọc số liệu.", "The dashboard needs an API key to read the figures."],
  welcomeHow: [
    "Chạy thử trên máy này: dùng khoá quản trị mẫu mà lệnh make run in ra (cũng có trong tệp .data/demo-admin.key). " +
      "Trên máy chủ: xin quản trị viên một khoá chỉ đọc (hatang keys create --role viewer). Khoá chỉ lưu trong trình duyệt này.",
    "Trying it on this machine: use the demo admin key make run printed (also in the file .data/demo-admin.key). " +
      "On a server: ask an administrator for a read-only key (hatang keys create --role viewer). The key stays in this browser.",
  ],
  welcomeShows: [
    "Sau khi nhập khoá: mức sẵn sàng IoT theo lĩnh vực so với chỉ tiêu 40%, bản đồ tài sản, số liệu theo địa bàn, " +
      "tình trạng thiết bị và số liệu trực tiếp.",
    "With a key: IoT readiness per sector against the 40% target, the map of assets, figures by area, " +
      "device health and live readings.",
  ],
  apiDocs: ["Tài liệu API", "API documentation"], readiness: ["Mức sẵn sàng theo lĩnh vực", "Readiness by sector"],
  map: ["Bản đồ tài sản", "Map of assets"],
  mapNote: [
    "Vị trí theo kinh độ/vĩ độ, không dùng máy chủ bản đồ bên ngoài.",
    "Positions from latitude/longitude; no outside map server.",
  ],
  areas: ["Theo địa bàn", "By area"], health: ["Tình trạng thiết bị", "Device health"],
  chart: ["Số liệu của một thiết bị", "Data of one device"],
  chooseSeries: ["Thiết bị và chỉ số", "Device and metric"],
  searchSeries: ["Tìm thiết bị hoặc chỉ số", "Search a device or metric"],
  feed: ["Số liệu trực tiếp", "Live readings"],
  footer: ["hatang — nền tảng cảm biến mã nguồn mở.", "hatang — an open-source sensor platform."],
  connected: ["Đã kết nối — số liệu trực tiếp", "Connected — live data"],
  disconnected: ["MẤT KẾT NỐI — số liệu không cập nhật", "DISCONNECTED — data is not updating"],
  feedDown: [
    "Máy chủ mất kết nối tới nguồn số liệu — không có số liệu mới",
    "The server lost its data feed — no new readings",
  ],
  connecting: ["Đang kết nối…", "Connecting…"], target: ["Mục tiêu", "Target"], deadline: ["Hạn", "Deadline"],
  ready: ["sẵn sàng", "ready"], of: ["trên", "of"], essential: ["thiết yếu", "essential"],
  stillNeeded: ["Còn cần", "Still needed"], noAssets: ["chưa có tài sản thiết yếu", "no essential assets yet"],
  statusCol: ["Trạng thái", "Status"], readyCol: ["Sẵn sàng", "Ready"], sector: ["Lĩnh vực", "Sector"],
  area: ["Địa bàn", "Area"], share: ["Tỷ lệ", "Share"], total: ["Tổng", "Total"], time: ["Thời gian", "Time"],
  device: ["Thiết bị", "Device"], metric: ["Chỉ số", "Metric"], value: ["Giá trị", "Value"],
  dropped: ["bỏ qua do quá tải", "skipped under load"], level: ["Cấp", "Level"], online: ["Trực tuyến", "Online"],
  silent: ["Im lặng", "Silent"], suspended: ["Tạm ngưng", "Suspended"],
  provisioned: ["Chưa kích hoạt", "Not activated"], noData: ["Chưa có số liệu.", "No data yet."],
  asOf: ["Số liệu ngày", "Figures for"], passed: ["đã qua", "passed"],
  includeDemo: ["Gồm dữ liệu mẫu", "Include demo data"], demo: ["mẫu", "demo"],
  demoBadge: ["DỮ LIỆU MẪU", "DEMO DATA"],
  demoShare: ["tài sản sẵn sàng là tài sản mẫu (mô phỏng)", "ready assets are demo (simulated) assets"],
  demoOff: ["Đã loại dữ liệu mẫu: chỉ tài sản thật.", "Demo data left out: real assets only."],
  loading: ["Đang tải…", "Loading…"], loadedAssets: ["tài sản", "assets"],
  clustered: [
    "Hiển thị theo cụm: mỗi vòng tròn là một nhóm tài sản gần nhau",
    "Shown in clusters: each circle is a group of nearby assets",
  ],
  partial: ["Chỉ hiển thị", "Showing only"], ofTotal: ["trên", "of"],
  noPosition: ["không có toạ độ", "without a position"], clusterOf: ["tài sản", "assets"],
  live: ["trực tiếp", "live"],
  history6h: ["6 giờ qua (trung bình mỗi phút), rồi trực tiếp", "last 6 hours (mean per minute), then live"],
  status: {
    met: ["đạt", "met"], on_track: ["đúng tiến độ", "on track"], behind: ["chậm tiến độ", "behind"],
    missed: ["không đạt", "missed"], no_assets: ["không có tài sản", "no assets"],
    no_target: ["không có mục tiêu", "no target"],
  },
  reasons: {
    ready: ["sẵn sàng", "ready"], silent: ["im lặng quá 24 giờ", "silent for over 24 h"],
    never_reported: ["chưa từng gửi số liệu", "never reported"], no_device: ["chưa có thiết bị", "no device"],
    device_not_active: ["thiết bị chưa hoạt động", "device not active"],
    wrong_sector: ["thiết bị sai lĩnh vực", "device of another sector"], other: ["không thiết yếu", "not essential"],
  },
  levels: {
    province: ["Tỉnh", "Province"], district: ["Huyện/thị xã/thành phố", "District"],
    commune: ["Xã/phường", "Commune/ward"], ward: ["Phường", "Ward"], zone: ["Khu", "Zone"],
  },
  sectors: {
    transport: ["Giao thông", "Transport"], energy: ["Năng lượng", "Energy"], electricity: ["Điện", "Electricity"],
    water: ["Nước", "Water"], urban: ["Đô thị", "Urban"],
  },
  lang: ["English", "Tiếng Việt"],
};

// One language's side of a table of [Vietnamese, English] pairs, nested tables included.
const side = (table, index) =>
  Object.fromEntries(Object.entries(table).map(([key, v]) => [key, Array.isArray(v) ? v[index] : side(v, index)]));

// A table of [Vietnamese, English] pairs as one table per language: { vi: {...}, en: {...} }.
export const bilingual = (phrases) => ({ vi: side(phrases, 0), en: side(phrases, 1) });

export const TEXT = bilingual(PHRASES);

export function language() {
  return localStorage.getItem("hatang.lang") === "en" ? "en" : "vi";
}

export function t(key) {
  return TEXT[language()][key] ?? TEXT.vi[key] ?? key;
}

export function applyStatic() {
  const lang = language();
  document.documentElement.lang = lang;
  for (const node of document.querySelectorAll("[data-i18n]")) node.textContent = t(node.dataset.i18n);
  for (const node of document.querySelectorAll("[data-i18n-placeholder]")) node.placeholder = t(node.dataset.i18nPlaceholder);
  document.getElementById("lang").textContent = TEXT[lang].lang;
}
