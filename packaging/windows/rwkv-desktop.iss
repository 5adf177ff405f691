; Inno Setup 6 script for RWKV Desktop: a per-user install that needs no administrator rights
; (Start menu entry, optional desktop icon, uninstaller in Settings > Apps). Built by
; packaging/windows/build_windows.sh after the PyInstaller bundle:
;   ISCC.exe /DAppVersion=0.1.0 /DVariant=cpu /DBundleDir=C:\...\dist\cpu\rwkv-desktop rwkv-desktop.iss
; Silent install / uninstall (CI):  setup.exe /VERYSILENT /SUPPRESSMSGBOXES /CURRENTUSER
;                                   "%LOCALAPPDATA%\Programs\RWKV Desktop\unins000.exe" /VERYSILENT

#ifndef AppVersion
  #define AppVersion "0.1.0"
#endif
#ifndef Variant
  #define Variant "cpu"
#endif
#ifndef BundleDir
  #define BundleDir "..\..\dist\" + Variant + "\rwkv-desktop"
#endif
#define AppName "RWKV Desktop"
#define AppExe "rwkv-desktop.exe"

[Setup]
; One AppId for every variant: installing the CUDA build over the CPU build replaces it.
AppId={{6B0E64C1-4E1D-4A53-9C39-2F5A7D3B8E11}
AppName={#AppName}
AppVersion={#AppVersion}
AppVerName={#AppName} {#AppVersion} ({#Variant})
AppPublisher=RWKV Desktop developers
; Per user by default: {autopf} is %LOCALAPPDATA%\Programs when not elevated. The dialog lets a
; user with admin rights choose an install for all users instead.
PrivilegesRequired=lowest
PrivilegesRequiredOverridesAllowed=dialog
DefaultDirName={autopf}\{#AppName}
DefaultGroupName={#AppName}
DisableProgramGroupPage=yes
UsePreviousAppDir=yes
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
MinVersion=10.0
OutputDir=..\..\dist
OutputBaseFilename=rwkv-desktop-{#AppVersion}-windows-x64-{#Variant}-setup
SetupIconFile=..\icons\rwkv-desktop.ico
UninstallDisplayIcon={app}\{#AppExe}
UninstallDisplayName={#AppName}
; LZMA2 on the whole (solid) bundle: torch's DLLs compress well. No executable packer anywhere.
Compression=lzma2/max
SolidCompression=yes
LZMANumBlockThreads=4
WizardStyle=modern
CloseApplications=yes

[Languages]
Name: "english"; MessagesFile: "compiler:Default.isl"

[Tasks]
Name: "desktopicon"; Description: "{cm:CreateDesktopIcon}"; GroupDescription: "{cm:AdditionalIcons}"; Flags: unchecked

[InstallDelete]
; A new version may ship fewer files: start from a clean program folder (user data lives elsewhere).
Type: filesandordirs; Name: "{app}\_internal"

[Files]
Source: "{#BundleDir}\*"; DestDir: "{app}"; Flags: ignoreversion recursesubdirs createallsubdirs

[Icons]
Name: "{autoprograms}\{#AppName}"; Filename: "{app}\{#AppExe}"; WorkingDir: "{app}"
Name: "{autodesktop}\{#AppName}"; Filename: "{app}\{#AppExe}"; WorkingDir: "{app}"; Tasks: desktopicon

[Run]
Filename: "{app}\{#AppExe}"; Description: "{cm:LaunchProgram,{#AppName}}"; Flags: nowait postinstall skipifsilent

[UninstallDelete]
; Anything a run left next to the program (never the user's conversations: those are in AppData).
Type: filesandordirs; Name: "{app}\_internal"
Type: dirifempty; Name: "{app}"
