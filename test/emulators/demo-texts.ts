/**
 * The demo page's own words in the languages the app speaks (en, ru, zh). The language is the one Bitrix24 gives the
 * app (the page's `lang`, which the frame passes on as LANG), so the controls and the app frame always agree.
 */
export const DEMO_LANGS = ['en', 'ru', 'zh'] as const;
export type DemoLang = (typeof DEMO_LANGS)[number];

export function demoLang(value: unknown): DemoLang {
  return DEMO_LANGS.find((lang) => lang === value) ?? 'en';
}

export interface DemoTexts {
  title: string;
  controls: string;
  pbx: string;
  calls: { answered: string; missed: string; transfer: string; unknown: string; outbound: string };
  clickToCall: string;
  hangUp: string;
  record: string;
  openIn: string;
  views: { settings: string; contact: string; card: string };
  language: string;
  ready: string;
  calling: string;
  ringing: string;
  refused: string;
  hungUp: string;
  noCall: string;
  clickToCallStarted: string;
  cardFor: string;
  /** A fresh demo (DEMO_FRESH=1) shows what the Connection tab asks for. */
  credentials: { title: string; address: string; clientId: string; clientSecret: string };
}

export const DEMO_TEXTS: Record<DemoLang, DemoTexts> = {
  en: {
    title: 'PBX connector demo',
    controls: 'Demo controls',
    pbx: 'Emulated PBX',
    calls: {
      answered: 'John Doe calls · you answer (stays on the line until Hang up)',
      missed: 'John Doe calls · missed',
      transfer: 'John Doe calls · you answer, then blind transfer to Bob Jones (1002)',
      unknown: 'Unknown number calls · a lead is created',
      outbound: 'You call John Doe · outbound',
    },
    clickToCall: 'Click John Doe’s number in the CRM (click-to-call)',
    hangUp: 'Hang up',
    record: 'record calls',
    openIn: 'Open in Bitrix24',
    views: { settings: 'App settings', contact: 'John Doe · contact tab “Calls”', card: 'Last call card' },
    language: 'Language',
    ready: 'Press a call button: the call card pops up in the frame below.',
    calling: 'Calling…',
    ringing: '{label}: ringing (PBX call {callId})',
    refused: 'The PBX emulator refused: {error}',
    hungUp: 'Hung up {count} call(s).',
    noCall: 'No call is on the line.',
    clickToCallStarted: 'Bitrix24 asked the app to call {phone}: your phone (1001) rings first, then John Doe.',
    cardFor: 'Call card: {phone}',
    credentials: { title: 'Your PBX (emulated) — enter these on the app’s Connection tab', address: 'PBX address', clientId: 'Client ID', clientSecret: 'Client secret' },
  },
  ru: {
    title: 'Демо коннектора АТС',
    controls: 'Управление демо',
    pbx: 'Эмулятор АТС',
    calls: {
      answered: 'Звонит John Doe · вы отвечаете (на линии, пока не нажмёте «Положить трубку»)',
      missed: 'Звонит John Doe · пропущен',
      transfer: 'Звонит John Doe · вы отвечаете и переводите вслепую на Bob Jones (1002)',
      unknown: 'Звонит неизвестный номер · создаётся лид',
      outbound: 'Вы звоните John Doe · исходящий',
    },
    clickToCall: 'Нажать номер John Doe в CRM (звонок в один клик)',
    hangUp: 'Положить трубку',
    record: 'записывать звонки',
    openIn: 'Открыть в Битрикс24',
    views: { settings: 'Настройки приложения', contact: 'John Doe · вкладка контакта «Звонки»', card: 'Карточка последнего звонка' },
    language: 'Язык',
    ready: 'Нажмите кнопку звонка: карточка звонка откроется в окне ниже.',
    calling: 'Звоним…',
    ringing: '{label}: звонит (звонок АТС {callId})',
    refused: 'Эмулятор АТС отказал: {error}',
    hungUp: 'Положено трубок: {count}.',
    noCall: 'На линии нет звонков.',
    clickToCallStarted: 'Битрикс24 попросил приложение позвонить на {phone}: сначала звонит ваш телефон (1001), затем John Doe.',
    cardFor: 'Карточка звонка: {phone}',
    credentials: { title: 'Ваша АТС (эмулятор) — введите это на вкладке «Подключение» приложения', address: 'Адрес АТС', clientId: 'Client ID', clientSecret: 'Client secret' },
  },
  zh: {
    title: 'PBX 连接器演示',
    controls: '演示控制',
    pbx: '模拟 PBX',
    calls: {
      answered: 'John Doe 来电 · 您接听（保持通话直到挂断）',
      missed: 'John Doe 来电 · 未接',
      transfer: 'John Doe 来电 · 您接听，然后盲转给 Bob Jones (1002)',
      unknown: '未知号码来电 · 创建线索',
      outbound: '您呼叫 John Doe · 呼出',
    },
    clickToCall: '在 CRM 中点击 John Doe 的号码（点击呼叫）',
    hangUp: '挂断',
    record: '通话录音',
    openIn: '在 Bitrix24 中打开',
    views: { settings: '应用设置', contact: 'John Doe · 联系人“通话”标签', card: '最近一次通话卡片' },
    language: '语言',
    ready: '按下通话按钮：通话卡片会在下方窗口弹出。',
    calling: '正在呼叫…',
    ringing: '{label}：振铃中（PBX 通话 {callId}）',
    refused: 'PBX 模拟器拒绝：{error}',
    hungUp: '已挂断 {count} 通电话。',
    noCall: '当前没有通话。',
    clickToCallStarted: 'Bitrix24 请求应用呼叫 {phone}：您的话机 (1001) 先振铃，然后呼叫 John Doe。',
    cardFor: '通话卡片：{phone}',
    credentials: { title: '您的 PBX（模拟）— 在应用的“连接”选项卡中填写', address: 'PBX 地址', clientId: 'Client ID', clientSecret: 'Client secret' },
  },
};

/** Fills `{name}` placeholders. */
export function fill(text: string, values: Record<string, string | number>): string {
  return text.replace(/\{(\w+)\}/g, (whole, key: string) => (key in values ? String(values[key]) : whole));
}
